/** Base of every error this project throws on purpose; `name` is the subclass name. */
export class AppError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One or more configuration variables are missing or malformed; `problems` names each. */
export class ConfigError extends AppError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** A request that failed verification (signature, decryption, shape, size). Seen outside as one uniform 4xx. */
export class RejectedRequestError extends AppError {
  /** Why, for the log only: never sent to the caller. */
  readonly reason: string;
  constructor(reason: string, options?: ErrorOptions) {
    super(`request rejected: ${reason}`, options);
    this.reason = reason;
  }
}

/** The caller asked for something malformed (bad invoke payload, bad query); safe to tell them why. */
export class BadRequestError extends AppError {}

/**
 * An expected, explainable failure (not a bug or an outage) that a caller can act on, named by a stable
 * `type` (what an invoke answer carries; class names do not survive minified bundles).
 */
export abstract class ExpectedError extends AppError {
  abstract readonly type: string;
}
