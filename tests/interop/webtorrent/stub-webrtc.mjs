// Module hooks for driver.mjs: replace the 'webrtc-polyfill' import (native node-datachannel,
// whose binary `npm ci --ignore-scripts` does not download) with empty classes. HTTP and UDP
// trackers never touch WebRTC; only ws:// trackers would.
const STUB = 'data:text/javascript,' + encodeURIComponent(
  'export class RTCPeerConnection {}\n' +
  'export class RTCSessionDescription {}\n' +
  'export class RTCIceCandidate {}\n' +
  'export default {}\n')

export async function resolve (specifier, context, next) {
  if (specifier === 'webrtc-polyfill' || specifier.startsWith('node-datachannel')) {
    return { url: STUB, shortCircuit: true }
  }
  return next(specifier, context)
}
