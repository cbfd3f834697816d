import { graphql } from '../gql';
import type { AuthFieldsFragment } from '../gql/graphql';
import { GraphQLRequestError } from '../graphql/errors';
import { post } from '../graphql/transport';

/**
 * The signed-in session, outside React. The refresh token is kept in
 * localStorage so that a reload keeps the shopper signed in; the access token
 * lives in memory only and is refreshed shortly before it expires, or when a
 * request answers UNAUTHENTICATED. Refresh tokens rotate (each works once), so
 * concurrent refreshes share one request.
 */

graphql(`
  fragment AuthFields on AuthPayload {
    accessToken
    refreshToken
    expiresAt
    user {
      id
      name
      email
    }
  }
`);

const RefreshTokenMutation = graphql(`
  mutation RefreshToken($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) {
      ...AuthFields
    }
  }
`);

const LogoutMutation = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(refreshToken: $refreshToken)
  }
`);

export type SessionUser = AuthFieldsFragment['user'];

export interface SessionState {
  /** The signed-in user, or null. */
  user: SessionUser | null;
  /** True while a stored session is being restored after a (re)load. */
  restoring: boolean;
}

const REFRESH_TOKEN_KEY = 'shop.refreshToken';
/** Refresh this long before the access token expires. */
const EXPIRY_MARGIN_MS = 30_000;

let accessToken: string | null = null;
let accessExpiresAt = 0;
let refreshing: Promise<string | null> | null = null;
let state: SessionState = { user: null, restoring: false };
const listeners = new Set<() => void>();

function setState(next: SessionState): void {
  state = next;
  listeners.forEach((listener) => listener());
}

function storedRefreshToken(): string | null {
  return localStorage.getItem(REFRESH_TOKEN_KEY);
}

/** Adopts the tokens and user of a login, sign-up or refresh. */
export function adopt(payload: AuthFieldsFragment): void {
  accessToken = payload.accessToken;
  accessExpiresAt = Date.parse(payload.expiresAt);
  localStorage.setItem(REFRESH_TOKEN_KEY, payload.refreshToken);
  setState({ user: payload.user, restoring: false });
}

function forget(): void {
  accessToken = null;
  accessExpiresAt = 0;
  localStorage.removeItem(REFRESH_TOKEN_KEY);
  setState({ user: null, restoring: false });
}

/**
 * Trades the stored refresh token for a new pair (one request at a time).
 */
export function refresh(): Promise<string | null> {
  refreshing ??= (async () => {
    const token = storedRefreshToken();
    if (!token) return null;
    try {
      const data = await post(RefreshTokenMutation, { refreshToken: token }, null);
      adopt(data.refreshToken);
      return accessToken;
    } catch (error) {
      // A refused token ends the session; anything else (the network, a busy
      // server) leaves the token for the next attempt.
      if (error instanceof GraphQLRequestError && error.hasCode('UNAUTHENTICATED')) forget();
      else setState({ ...state, restoring: false });
      throw error;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** An access token that is valid for a while yet (refreshed if needed), or null when signed out. */
export async function validAccessToken(): Promise<string | null> {
  if (accessToken && accessExpiresAt - EXPIRY_MARGIN_MS > Date.now()) return accessToken;
  if (!storedRefreshToken()) return null;
  return refresh();
}

/** Restores a stored session after a page load. */
export function restore(): void {
  if (!storedRefreshToken()) return;
  setState({ user: null, restoring: true });
  refresh().catch(() => undefined);
}

/** Ends the session here and on the server (best effort). */
export async function signOut(): Promise<void> {
  const token = storedRefreshToken();
  forget();
  if (token) await post(LogoutMutation, { refreshToken: token }, null).catch(() => undefined);
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getState(): SessionState {
  return state;
}
