import type { TypedDocumentString } from '../gql/graphql';
import { GraphQLRequestError, NetworkError, type GraphQLErrorEntry } from './errors';

/** The GraphQL endpoint (same origin by default). */
export const GRAPHQL_URL = import.meta.env.VITE_GRAPHQL_URL ?? '/graphql';

/**
 * Trusted-document mode: send only the id of a document from the manifest
 * (src/gql/persisted-documents.json), never its text. On by default in a
 * production build; VITE_TRUSTED_DOCUMENTS=true|false decides explicitly.
 */
const TRUSTED_DOCUMENTS =
  (import.meta.env.VITE_TRUSTED_DOCUMENTS ?? String(import.meta.env.PROD)) === 'true';

interface GraphQLResponse<TData> {
  data?: TData | null;
  errors?: GraphQLErrorEntry[];
}

function operationName(text: string): string | undefined {
  return /^\s*(?:query|mutation|subscription)\s+(\w+)/.exec(text)?.[1];
}

/** The JSON body for a document, for any transport: `documentId` in trusted mode, `query` otherwise. */
export function requestBody<TVariables>(
  document: TypedDocumentString<unknown, TVariables>,
  variables: TVariables | undefined,
): string {
  const text = document.toString();
  const hash: unknown = document.__meta__?.['hash'];
  if (TRUSTED_DOCUMENTS && typeof hash !== 'string') {
    throw new Error(`no persisted document id for ${operationName(text) ?? 'an operation'}; run npm run codegen`);
  }
  const body = TRUSTED_DOCUMENTS
    ? { documentId: hash, operationName: operationName(text), variables }
    : { query: text, operationName: operationName(text), variables };
  return JSON.stringify(body);
}

/** Runs one operation; GraphQL errors throw a GraphQLRequestError, transport failures a NetworkError. */
export async function post<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables | undefined,
  accessToken: string | null,
): Promise<TResult> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  if (accessToken) headers['authorization'] = `Bearer ${accessToken}`;

  let response: Response;
  try {
    response = await fetch(GRAPHQL_URL, { method: 'POST', headers, body: requestBody(document, variables) });
  } catch (cause) {
    throw new NetworkError(cause instanceof Error ? cause.message : 'fetch failed');
  }
  let payload: GraphQLResponse<TResult>;
  try {
    payload = (await response.json()) as GraphQLResponse<TResult>;
  } catch {
    throw new NetworkError(`the server answered ${response.status} without GraphQL`);
  }
  if (payload.errors?.length) throw new GraphQLRequestError(payload.errors);
  if (payload.data == null) throw new NetworkError(`the server answered ${response.status} without data`);
  return payload.data;
}
