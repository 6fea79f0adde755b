/** Epoch milliseconds. All TTL and refresh arithmetic goes through an injected clock so tests can move time. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** Epoch seconds (the unit of `expiresAt`, DynamoDB TTL and WeChat's CreateTime). */
export const nowSeconds = (clock: Clock): number => Math.floor(clock() / 1000);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
