/**
 * The step every engine takes before its provider call: the cache read, the key's
 * requests check and the reservation, sent together, so a keyed miss waits for one
 * round trip to the stores, not three. An answer the isolate holds needs none.
 */
import type { CacheScope } from "../cache/key.ts";
import type { CachedCompletion, ResponseCache } from "../cache/response-cache.ts";
import { type Caller, ownerOf } from "../security/caller.ts";
import { nothingReserved, type Reserves, reserveFor, type Settlement, toGiveBack } from "../security/settlement.ts";
import type { Joint } from "../storage/joint.ts";

export type GateServices = Reserves & { responseCache: ResponseCache };

export type GateInput = {
  caller: Caller | undefined;
  /** The key's requests-per-minute check, already in flight (middleware/api-keys.ts); it rejects with the 429. */
  admission?: Promise<void> | undefined;
  /** Takes work that outlives the answer (a slice's refill), for the request's `waitUntil`. */
  defer: (work: Promise<unknown>) => void;
  /** The request's held calls to Redis (the key's first slices, storage/joint.ts): sent here, with the reservation's. */
  joint?: Joint | undefined;
};

export type GateStep = {
  /** The cache entry to look for, when the request may be answered from the cache. */
  readKey: string | undefined;
  /** A hit the caller could have been served (a model its key may use, at a tier it may reach). */
  servable: (hit: CachedCompletion) => boolean;
  /** What to reserve for a keyed request that will reach a provider; nothing when undefined. */
  estimate: { micros: number; orMicros?: number; tokens: number } | undefined;
};

/** What a refusal or a hit reserved is given back (`toGiveBack`) by the caller, which settles it at nothing. */
export type Gate =
  | { kind: "hit"; hit: CachedCompletion; settlement: Settlement | undefined }
  | { kind: "refused"; reason: unknown; settlement: Settlement | undefined }
  | { kind: "open"; settlement: Settlement | undefined };

export async function passGate(services: GateServices, input: GateInput, step: GateStep): Promise<Gate> {
  const { caller } = input;
  const servable = (hit: CachedCompletion | undefined): hit is CachedCompletion => hit !== undefined && step.servable(hit);
  const inIsolate = step.readKey === undefined ? undefined : services.responseCache.inIsolate(step.readKey);
  if (servable(inIsolate)) {
    input.joint?.send();
    // Known at once: nothing to reserve; the tokens bucket is read beside the requests check, for the headers.
    const [admitted, bucket] = await Promise.allSettled([input.admission, caller === undefined ? undefined : services.allowances.peekTokens(caller)]);
    const view = caller === undefined || bucket.status === "rejected" ? undefined : nothingReserved(caller, bucket.value);
    if (admitted.status === "rejected") return { kind: "refused", reason: admitted.reason, settlement: view };
    return { kind: "hit", hit: inIsolate, settlement: view };
  }
  // A refusal the limiter knew at once (its isolate cache of keys over their limit) reserves nothing.
  const early = await Promise.race([input.admission, undefined]).then(
    () => undefined,
    (reason: unknown) => reason ?? new Error("refused"),
  );
  if (early !== undefined) {
    input.joint?.send();
    return { kind: "refused", reason: early, settlement: undefined };
  }
  const wave = [
    step.readKey === undefined ? undefined : services.responseCache.read(step.readKey),
    input.admission,
    caller === undefined || step.estimate === undefined ? undefined : reserveFor(services, caller, step.estimate, input.defer, input.joint),
  ] as const;
  // Every call of the wave is in: what the key's calls held goes out with the reservation's, as one.
  input.joint?.send();
  const [hit, admitted, reserved] = await Promise.allSettled(wave);
  const settlement = reserved.status === "fulfilled" ? reserved.value : undefined;
  if (admitted.status === "rejected") return { kind: "refused", reason: admitted.reason, settlement };
  const found = hit.status === "fulfilled" ? hit.value : undefined;
  if (servable(found)) return { kind: "hit", hit: found, settlement: toGiveBack(settlement) };
  return { kind: "open", settlement };
}

/** Who may share a cache entry (cache/key.ts): the key's tenant, else the key alone; `user` narrows either. */
export function cacheScope(caller: Caller | undefined, user: string | null | undefined): CacheScope {
  return { ...ownerOf(caller), user: user ?? null };
}
