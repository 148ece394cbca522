/** The pinned policy version every response and audit record carries. */

export const CONSTITUTIONAL_HASH = "cdd01ef066bc6cf2";
export const CONSTITUTIONAL_HASH_HEADER = "x-constitutional-hash";
