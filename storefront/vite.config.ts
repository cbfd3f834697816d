import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// In development the router started by scripts/run answers /graphql; in the
// browser tests and in production the same origin serves both (Kong, or the
// test server in e2e/run.mjs).
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/graphql': { target: process.env.SHOP_ROUTER_URL ?? 'http://127.0.0.1:4000', changeOrigin: true },
    },
  },
  build: {
    sourcemap: true,
  },
});
