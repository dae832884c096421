import { defineConfig } from 'vite';

// The control plane serves the built page (dist/) at `/`; in development the vite server forwards the
// API and the socket.io endpoint to a control plane running locally.
const controlPlane = process.env.VILLAGE_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: {
      '/api': { target: controlPlane, changeOrigin: true },
      '/socket.io': { target: controlPlane, changeOrigin: true, ws: true },
    },
  },
});
