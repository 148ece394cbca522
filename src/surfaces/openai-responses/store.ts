/**
 * Stored responses, in Postgres (migrations/0010): saved as a response completes, read
 * once by a continuation (`previous_response_id`), fetched, listed and deleted by id.
 * Every statement names the caller's scope, so another tenant's id is simply not found.
 */
import type { Message } from "../../canonical/request.ts";
import { type Caller, ownerOf } from "../../security/caller.ts";
import type { Row, Sql } from "../../storage/postgres.ts";

export type StoredResponse = {
  /** The Response object as the client got it. */
  response: Record<string, unknown>;
  /** The request's input items as sent, each with its id. */
  inputItems: Record<string, unknown>[];
  /** The conversation as chat messages, up to and including this response's output: what a continuation starts from. */
  history: Message[];
};

/** A stored response as read, with the seconds its row has left when Postgres says (a copy lives no longer). */
export type LoadedResponse = StoredResponse & { expiresInSeconds?: number };

export type ResponseStore = {
  load(id: string): Promise<LoadedResponse | undefined>;
  save(id: string, stored: StoredResponse): Promise<void>;
  /** True when there was one to delete. */
  remove(id: string): Promise<boolean>;
};

/** Who may see a stored response: its owner (security/caller.ts), as one text; requests without a key share "anonymous". */
export function responseScope(caller: Caller | undefined): string {
  const { tenant, key } = ownerOf(caller);
  return tenant !== null ? `tenant:${tenant}` : key !== null ? `key:${key}` : "anonymous";
}

const jsonOf = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value);

export function createResponseStore(sql: Sql, scope: string, retentionDays: number): ResponseStore {
  return {
    async load(id) {
      const [row] = await sql(
        "SELECT response, input_items, history, floor(extract(epoch FROM expires_at - now())) AS expires_in FROM responses WHERE id = $1 AND scope = $2 AND expires_at > now()",
        [id, scope],
      );
      return row === undefined ? undefined : { ...storedOf(row), expiresInSeconds: Number(row.expires_in) };
    },
    async save(id, stored) {
      await sql(
        `INSERT INTO responses (id, scope, expires_at, response, input_items, history)
         VALUES ($1, $2, now() + make_interval(days => $3), $4, $5, $6)`,
        [id, scope, retentionDays, JSON.stringify(stored.response), JSON.stringify(stored.inputItems), JSON.stringify(stored.history)],
      );
    },
    async remove(id) {
      const rows = await sql("DELETE FROM responses WHERE id = $1 AND scope = $2 RETURNING id", [id, scope]);
      return rows.length > 0;
    },
  };
}

function storedOf(row: Row): StoredResponse {
  return {
    response: jsonOf(row.response) as Record<string, unknown>,
    inputItems: jsonOf(row.input_items) as Record<string, unknown>[],
    history: jsonOf(row.history) as Message[],
  };
}

/** Deletes every stored response past its retention; the count deleted. */
export async function deleteExpiredResponses(sql: Sql): Promise<number> {
  return (await sql("DELETE FROM responses WHERE expires_at <= now() RETURNING id")).length;
}
