import type { TypedDocumentString } from '../gql/graphql';
import { refresh, validAccessToken } from '../auth/session';
import { GraphQLRequestError } from './errors';
import { post } from './transport';

/**
 * Runs an operation as the signed-in shopper (or anonymously). An access
 * token the server no longer accepts is refreshed once and the operation retried.
 */
export async function request<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  const token = await validAccessToken();
  try {
    return await post(document, variables, token);
  } catch (error) {
    if (!token || !(error instanceof GraphQLRequestError) || !error.hasCode('UNAUTHENTICATED')) throw error;
    const renewed = await refresh();
    return post(document, variables, renewed);
  }
}
