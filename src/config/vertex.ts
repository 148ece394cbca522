/**
 * Vertex AI's settings, checked when the config is parsed: the service account (its JSON
 * key file), the project and the region. Each bad one is refused naming the variable and
 * the field, never quoting the value (the private key is in it).
 */
import * as z from "zod";

/**
 * Vertex AI's regions for generative models (Google's "Generative AI on Vertex AI
 * locations" list) and `global`. A list, not a pattern, so that a typo (`us-cental1`) stops
 * the router instead of sending prompts somewhere the operator did not choose; a region
 * Google adds later must be added here.
 */
export const VERTEX_REGIONS = [
  "global",
  "us-central1",
  "us-east1",
  "us-east4",
  "us-east5",
  "us-south1",
  "us-west1",
  "us-west2",
  "us-west3",
  "us-west4",
  "northamerica-northeast1",
  "northamerica-northeast2",
  "southamerica-east1",
  "southamerica-west1",
  "europe-central2",
  "europe-north1",
  "europe-southwest1",
  "europe-west1",
  "europe-west2",
  "europe-west3",
  "europe-west4",
  "europe-west6",
  "europe-west8",
  "europe-west9",
  "europe-west10",
  "europe-west12",
  "asia-east1",
  "asia-east2",
  "asia-northeast1",
  "asia-northeast2",
  "asia-northeast3",
  "asia-south1",
  "asia-south2",
  "asia-southeast1",
  "asia-southeast2",
  "australia-southeast1",
  "australia-southeast2",
  "me-central1",
  "me-central2",
  "me-west1",
  "africa-south1",
] as const;

/** What the router needs of a service account's key file. */
export type ServiceAccount = {
  clientEmail: string;
  /** The PKCS#8 PEM key the access token's JWT is signed with (a secret). */
  privateKey: string;
  /** Where the signed JWT is exchanged for an access token (Google's, or a fake's in tests). */
  tokenUri: string;
  projectId: string | undefined;
};

/** Vertex AI as a provider needs it: whose token, for which project, where. */
export type VertexAccount = { serviceAccount: ServiceAccount; project: string; region: string };

const PEM = /^-----BEGIN PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PRIVATE KEY-----\s*$/;

/**
 * The service account key file, as `gcloud iam service-accounts keys create` writes it.
 * Checked here: JSON, an object, `client_email`, a PKCS#8 PEM `private_key` whose body is
 * base64 of a DER SEQUENCE, an https `token_uri` (http only on loopback, for a fake). Whether
 * WebCrypto takes the key is known at the first token (providers/vertex/token.ts).
 */
export const ServiceAccountJson = z.string().transform((text, context): ServiceAccount => {
  const refuse = (message: string): never => {
    context.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the text, which holds the key: say only what is wrong.
    return refuse("is not JSON: give the whole key file of a service account");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return refuse("must be a JSON object (a service account's key file)");
  const fields = parsed as Record<string, unknown>;
  if (fields.type !== undefined && fields.type !== "service_account") return refuse(`'type' must be "service_account"`);
  const email = fields.client_email;
  if (typeof email !== "string" || !/^[^@\s]+@[^@\s]+$/.test(email)) return refuse("'client_email' is missing or not an email address");
  const key = fields.private_key;
  if (typeof key !== "string" || key.trim() === "") return refuse("'private_key' is missing");
  const body = PEM.exec(key.replaceAll("\\n", "\n"))?.[1];
  if (body === undefined) return refuse("'private_key' must be a PEM PKCS#8 key (-----BEGIN PRIVATE KEY-----), as Google writes it");
  if (!derSequence(body)) return refuse("'private_key' is not base64 of a DER key");
  const tokenUri = fields.token_uri ?? "https://oauth2.googleapis.com/token";
  if (typeof tokenUri !== "string" || !secureUrl(tokenUri)) return refuse("'token_uri' must be an https URL (http only on 127.0.0.1 or localhost)");
  const projectId = typeof fields.project_id === "string" && fields.project_id !== "" ? fields.project_id : undefined;
  return { clientEmail: email, privateKey: key.replaceAll("\\n", "\n"), tokenUri, projectId };
});

function derSequence(base64: string): boolean {
  try {
    const bytes = atob(base64.replace(/\s+/g, ""));
    return bytes.length > 64 && bytes.charCodeAt(0) === 0x30;
  } catch {
    return false;
  }
}

function secureUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || (url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost"));
  } catch {
    return false;
  }
}

/** A Google Cloud project id (6-30 lower-case letters, digits and hyphens), or a legacy domain-scoped one (`example.com:project`). */
export const VertexProject = z.string().regex(/^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a Google Cloud project id (my-project-123)");

export const VertexRegion = z.enum(VERTEX_REGIONS, { error: "is not a Vertex AI region (global, us-central1, europe-west4, ...: see docs/providers.md)" });

/** Vertex AI's host for a region: the global endpoint has no region in its name. */
export const vertexHost = (region: string): string =>
  region === "global" ? "https://aiplatform.googleapis.com" : `https://${region}-aiplatform.googleapis.com`;
