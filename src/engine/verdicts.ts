// Verdict codes shared with the native addon (native/ writes them into the
// kernel's verdict messages): keep the numbers in step with native/.

export const VERDICT_ACCEPT = 0 as const;
export const VERDICT_DROP = 1 as const;
/** Accept and mark the connection trusted, so kernel rules can let the flow skip the queue. */
export const VERDICT_ACCEPT_TRUST = 2 as const;

export const VERDICT_NAMES: readonly string[] = ['accept', 'drop', 'accept'];
