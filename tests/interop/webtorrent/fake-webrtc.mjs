// A stand-in for 'webrtc-polyfill' (native node-datachannel, whose binary `npm ci
// --ignore-scripts` does not download). HTTP and UDP trackers never touch it; for ws://
// trackers it does just enough for simple-peer to make offers and answers (SDP text naming
// the connection that made it) and to take the other side's, and records every description
// set, so that driver.mjs can check which offer and which answer the tracker delivered.
// It never connects: the tracker's job ends with the answer delivered.
export const seen = [] // { pc, side: 'local' | 'remote', type, sdp }
let nextId = 0

export class RTCSessionDescription {
  constructor (d) {
    this.type = d.type
    this.sdp = d.sdp
  }
}

export class RTCIceCandidate {
  constructor (c) {
    Object.assign(this, c)
  }
}

class FakeChannel {
  constructor (label) {
    this.label = label
    this.readyState = 'connecting'
    this.bufferedAmount = 0
    this.bufferedAmountLowThreshold = 0
    this.binaryType = 'arraybuffer'
  }

  send () {}
  close () { this.readyState = 'closed' }
}

export class RTCPeerConnection {
  constructor () {
    this.id = ++nextId
    this.localDescription = null
    this.remoteDescription = null
    this.signalingState = 'stable'
    this.iceConnectionState = 'new'
    this.iceGatheringState = 'new'
    this.connectionState = 'new'
  }

  createDataChannel (label) { return new FakeChannel(label) }
  async createOffer () { return { type: 'offer', sdp: 'v=0\r\ns=fake offer of pc ' + this.id + '\r\n' } }
  async createAnswer () { return { type: 'answer', sdp: 'v=0\r\ns=fake answer of pc ' + this.id + '\r\n' } }

  async setLocalDescription (d) {
    this.localDescription = new RTCSessionDescription(d)
    seen.push({ pc: this.id, side: 'local', type: d.type, sdp: d.sdp })
    // No candidates to gather: gathering ends at once (simple-peer then sends the SDP).
    setTimeout(() => {
      this.iceGatheringState = 'complete'
      if (this.onicecandidate) this.onicecandidate({ candidate: null })
    }, 0)
  }

  async setRemoteDescription (d) {
    this.remoteDescription = new RTCSessionDescription(d)
    seen.push({ pc: this.id, side: 'remote', type: d.type, sdp: d.sdp })
  }

  async addIceCandidate () {}
  async getStats () { return new Map() }
  close () { this.signalingState = 'closed' }
}

export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
