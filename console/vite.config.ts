// The console is served by the Flask app at /console/ (app/console.py); `npm run dev` serves it with hot
// reloading and sends /api to a running API (MATONG_API, default http://127.0.0.1:8000).
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

export default defineConfig({
  base: '/console/',
  plugins: [
    vue(),
    // Element Plus components and their styles are imported where a template uses them (no full bundle).
    Components({ resolvers: [ElementPlusResolver({ importStyle: 'css' })], dts: false }),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: { proxy: { '/api': process.env.MATONG_API ?? 'http://127.0.0.1:8000' } },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      // @vueuse (under Element Plus) marks calls /* #__PURE__ */ where Rollup can't use the mark: Rollup
      // drops the comment and says so for each; nothing in the build changes, so those notes are not shown.
      onwarn(warning, warn) {
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('node_modules/@vueuse')) return
        warn(warning)
      },
      output: {
        // Libraries shared by every screen in long-lived chunks of their own; each screen its own chunk.
        manualChunks(id: string) {
          if (id.includes('node_modules/echarts/') || id.includes('node_modules/zrender/')) return 'echarts'
          if (id.includes('node_modules/vue') || id.includes('node_modules/@vue')) return 'vue'
          return undefined
        },
      },
    },
  },
})
