/** The ApiError a surface's parse throws, for tests that check what it refused and how. */
import { expect } from "vitest";
import { ApiError } from "../../src/http/errors.ts";

/** Awaits `parse`, expects it to throw an ApiError, and returns it. */
export async function refusal(parse: Promise<unknown>): Promise<ApiError> {
  const error = await parse.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}
