// Verdict codes shared with the native addon (native/ writes them into the
// kernel's verdict messages): keep the numbers in step with native/.

export const VERDICT_ACCEPT = 0 as const;
export const VERDICT_DROP = 1 as const;
/** Accept and mark the connection trusted, so kernel rules can let the flow skip the queue. */
export const VERDICT_ACCEPT_TRUST = 2 as const;

/**
 * Accept and mark the connection watched: the PBX's answers on it are queued
 * (render-rules.ts, "Which answers are queued"). For a request whose answer
 * the engine must read: one with credentials, an INVITE.
 */
export const VERDICT_ACCEPT_WATCH = 3 as const;

export const VERDICT_NAMES: readonly string[] = ['accept', 'drop', 'accept', 'accept'];

/**
 * Which verdict wins when one datagram or segment holds several messages:
 * a drop over everything, then a trust, then a watch, then a plain accept.
 */
export const VERDICT_RANK: readonly number[] = [0, 3, 2, 1];
