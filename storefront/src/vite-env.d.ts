/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Where the GraphQL endpoint is (default `/graphql`, same origin). */
  readonly VITE_GRAPHQL_URL?: string;
  /** `true`: send persisted document ids only; `false`: send the query text. */
  readonly VITE_TRUSTED_DOCUMENTS?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
