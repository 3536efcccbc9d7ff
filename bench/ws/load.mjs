// WebSocket tracker load for bench/ws_relay.py (npm ws, from bittorrent-tracker's deps).
//
//   node load.mjs URL PEERS SWARMS WARMUP_S DURATION_S
//
// Opens PEERS connections (100 at a time), each one WebTorrent peer of swarm (i mod SWARMS),
// and announces each once without offers ("joined N" when all replies are in). Then it waits for a line
// on stdin (the caller reads the tracker's memory meanwhile) and runs the relay load: every
// connection keeps one announce in flight carrying 5 offers of ~500 bytes (numwant 5), the
// size of real WebTorrent offers, sending the next one when the tracker's reply arrives.
// The tracker relays each offer to another peer of the swarm; the offers arriving at all
// connections are counted. Prints "start" after WARMUP_S, "end OFFERS ANNOUNCES SECONDS"
// after DURATION_S more (the caller reads the tracker's CPU time at both lines), then exits.
import crypto from 'node:crypto'
import readline from 'node:readline'
import WebSocket from 'ws'

const [url, npeers, nswarms, warmup, duration] = [process.argv[2], ...process.argv.slice(3).map(Number)]
const hashes = Array.from({ length: nswarms }, () => crypto.randomBytes(20).toString('latin1'))
const sdp = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' +
  'a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n' +
  'c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n' +
  'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n' +
  'a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n'
let phase = 'join'
let joined = 0
let offers = 0
let announces = 0
const peers = []

function announce (p, withOffers) {
  const msg = {
    action: 'announce', info_hash: p.hash, peer_id: p.id, numwant: withOffers ? 5 : 0,
    uploaded: 0, downloaded: 0, left: 1000, event: withOffers ? undefined : 'started',
    offers: withOffers
      ? Array.from({ length: 5 }, () => ({
        offer: { type: 'offer', sdp }, offer_id: crypto.randomBytes(20).toString('latin1')
      }))
      : []
  }
  p.ws.send(JSON.stringify(msg))
}

function onMessage (p, data) {
  // Relayed offers are most of the traffic: counted without parsing, so that the generator
  // (one node thread) runs out of CPU as late as possible.
  if (data.includes('"offer":{')) {
    offers++
    return
  }
  const m = JSON.parse(data)
  if (m.interval === undefined && m.complete === undefined) return
  if (phase === 'join') {
    if (!p.joined) {
      p.joined = true
      if (++joined === npeers) console.log('joined ' + joined)
      else if (joined % BATCH === 0) connectBatch()
    }
    return
  }
  announces++
  announce(p, true)
}

// Peers arrive in batches of BATCH, the next once the last has joined: a tracker's memory
// is then measured holding connected peers, not the peak of thousands of handshakes at once.
const BATCH = 100
function connectBatch () {
  const end = Math.min(npeers, peers.length + BATCH)
  for (let i = peers.length; i < end; i++) {
    const p = { hash: hashes[i % nswarms], id: crypto.randomBytes(20).toString('latin1') }
    p.ws = new WebSocket(url, { perMessageDeflate: false })
    p.ws.on('open', () => announce(p, false))
    p.ws.on('message', data => onMessage(p, data))
    p.ws.on('error', err => { console.error('peer ' + i + ': ' + err.message); process.exit(2) })
    p.ws.on('close', () => { if (phase !== 'done') { console.error('peer ' + i + ' closed'); process.exit(2) } })
    peers.push(p)
  }
}
connectBatch()

readline.createInterface({ input: process.stdin }).once('line', () => {
  phase = 'relay'
  for (const p of peers) announce(p, true)
  setTimeout(() => {
    const o0 = offers
    const a0 = announces
    const t0 = process.hrtime.bigint()
    console.log('start')
    setTimeout(() => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9
      console.log('end ' + (offers - o0) + ' ' + (announces - a0) + ' ' + secs.toFixed(3))
      phase = 'done'
      for (const p of peers) p.ws.terminate()
      setTimeout(() => process.exit(0), 100)
    }, duration * 1000)
  }, warmup * 1000)
})
