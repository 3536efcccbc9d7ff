// Module hooks for driver.mjs: replace the 'webrtc-polyfill' import (native node-datachannel,
// whose binary `npm ci --ignore-scripts` does not download) with fake-webrtc.mjs.
const FAKE = new URL('./fake-webrtc.mjs', import.meta.url).href

export async function resolve (specifier, context, next) {
  if (specifier === 'webrtc-polyfill' || specifier.startsWith('node-datachannel')) {
    return { url: FAKE, shortCircuit: true }
  }
  return next(specifier, context)
}
