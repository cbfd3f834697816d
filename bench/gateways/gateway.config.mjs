// Hive Gateway's configuration (read from this directory by the load tool's
// `hive-gateway supergraph <file>`): forward the caller's token to the subgraphs.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const authorization = request.headers.get('authorization');
      return authorization ? { authorization } : {};
    },
  },
});
