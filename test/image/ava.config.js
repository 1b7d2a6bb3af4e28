// `npm run test:image` (test/image/run.sh) runs these, after it has built the image.
export default {
  files: ['test/image/**/*.test.ts'],
  extensions: { ts: 'module' },
  timeout: '10m'
}
