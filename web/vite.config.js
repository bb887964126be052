import { defineConfig } from 'vite';

// `npm run dev`: the dashboard on http://localhost:5173 with /api proxied to
// the core (HONEYCOMB_API, default http://127.0.0.1:9002) and the WebSocket
// stream proxied to HONEYCOMB_WS (default ws://127.0.0.1:9003).
const api = process.env.HONEYCOMB_API || 'http://127.0.0.1:9002';
const ws = process.env.HONEYCOMB_WS || 'ws://127.0.0.1:9003';

export default defineConfig({
  base: './',
  esbuild: {
    jsx: 'automatic',
    jsxImportSource: 'preact',
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0, // no data: scripts or fonts; everything a file under assets/
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api/v1/stream': { target: ws, ws: true, changeOrigin: true },
      '/api': { target: api, changeOrigin: true },
    },
  },
  preview: {
    host: '127.0.0.1',
    proxy: {
      '/api/v1/stream': { target: ws, ws: true, changeOrigin: true },
      '/api': { target: api, changeOrigin: true },
    },
  },
});
