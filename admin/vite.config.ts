import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The control plane serves the built console (dist/) at `/admin/` (control-plane/src/http/admin-console.ts);
// in development the vite server forwards the API to a control plane running locally.
const controlPlane = process.env.VILLAGE_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // react-admin and MUI are most of the bundle (about 330 kB gzipped); they change less often than
    // the console's own code, so they get a chunk of their own that browsers keep across releases.
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [{ name: 'vendor', test: /node_modules[\\/](react|react-dom|@mui|@emotion|ra-|react-admin)/ }],
        },
      },
    },
  },
  server: { proxy: { '/api': { target: controlPlane, changeOrigin: true } } },
});
