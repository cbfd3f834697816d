/** One entry of a GraphQL response's `errors`. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: {
    code?: string;
    /** The input field at fault (validation errors). */
    field?: string;
  };
}

/** The server answered, with GraphQL errors. */
export class GraphQLRequestError extends Error {
  readonly errors: readonly GraphQLErrorEntry[];

  constructor(errors: readonly GraphQLErrorEntry[]) {
    super(errors.map((e) => e.message).join('; ') || 'GraphQL error');
    this.name = 'GraphQLRequestError';
    this.errors = errors;
  }

  /** The `extensions.code` of the first error. */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }

  hasCode(code: string): boolean {
    return this.errors.some((e) => e.extensions?.code === code);
  }
}

/** The server could not be reached, or did not answer with GraphQL. */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** What the router says instead of a subgraph's message while it masks them. */
const MASKED_MESSAGE = 'Unexpected error';

const FRIENDLY_BY_CODE: Record<string, string> = {
  BAD_USER_INPUT: 'Some of the details are not valid. Please check them and try again.',
  NOT_FOUND: 'We could not find what you asked for. It may have been removed.',
  CONFLICT: 'That cannot be done right now: something changed meanwhile. Please refresh and try again.',
  FORBIDDEN: 'You are not allowed to do that.',
  UNAUTHENTICATED: 'Your session has ended. Please sign in again.',
  RATE_LIMITED: 'Too many attempts. Please wait a little and try again.',
  SERVICE_UNAVAILABLE: 'Part of the shop is unavailable right now. Please try again in a moment.',
  COST_ESTIMATED_TOO_EXPENSIVE: 'That request is too large. Please narrow it down.',
};

const GENERIC = 'Something went wrong. Please try again.';

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A sentence for the shopper: the server's message when it is not masked,
 * else one derived from the code (`byCode` adds the caller's own wording).
 */
export function describeError(error: unknown, byCode: Record<string, string> = {}): string {
  if (error instanceof GraphQLRequestError) {
    const first = error.errors[0];
    if (first && first.message && first.message !== MASKED_MESSAGE) {
      return capitalise(first.message);
    }
    const code = error.code ?? '';
    return byCode[code] ?? FRIENDLY_BY_CODE[code] ?? GENERIC;
  }
  if (error instanceof NetworkError) {
    return 'We could not reach the shop. Check your connection and try again.';
  }
  return GENERIC;
}

/** The input field a validation error names (`extensions.field`), last path segment. */
export function errorField(error: unknown): string | undefined {
  if (!(error instanceof GraphQLRequestError)) return undefined;
  const field = error.errors.find((e) => e.extensions?.field)?.extensions?.field;
  return field?.split('.').pop();
}
