// swarmd interop: two bittorrent-tracker (WebTorrent) clients against one tracker URL.
//
//   node --import ./register.mjs driver.mjs ANNOUNCE_URL PORT_A PORT_B
//
// A (a seeder, left=0) starts; then B (a leecher) starts and must be given A's address by the
// tracker; then A re-announces and must be given B. Scrapes through Client.scrape must be
// exact at each step: (1 seeder, 1 leecher, 0 downloaded), after B's `completed` (2, 0, 1),
// after both `stopped` (0, 0, 1). Prints one JSON line per step ({"step", "ok", ...}) and
// exits 0 only if every step passed. Each wait is bounded; the whole run by a watchdog.
//
// Over ws:// peers are not given addresses: the tracker relays WebRTC offers and answers
// (fake-webrtc.mjs makes them and records what arrives). There, B's start must bring one of
// B's offers to A (and only one: A is the only other peer) and A's answer back to the very
// connection of B that made that offer; A's next announce the same the other way round.
import Client from 'bittorrent-tracker/client'
import crypto from 'node:crypto'
import { seen } from './fake-webrtc.mjs'

const [url, portA, portB] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const STEP_MS = 10000
const infoHash = crypto.randomBytes(20).toString('hex')
const host = url.includes('[::1]') ? '::1' : '127.0.0.1'
const overWs = url.startsWith('ws')
let failed = 0

function report (step, ok, extra) {
  if (!ok) failed++
  process.stdout.write(JSON.stringify(Object.assign({ step, ok }, extra || {})) + '\n')
}

function makeClient (name, port, left) {
  const peerId = Buffer.concat([Buffer.from('-WW0001-'), crypto.randomBytes(12)])
  const c = new Client({
    infoHash,
    peerId,
    announce: [url],
    port,
    getAnnounceOpts: () => ({ uploaded: 0, downloaded: 0, left: c.left })
  })
  c.left = left
  c.name = name
  c.peers = new Set()
  c.updates = 0
  c.on('peer', addr => { c.peers.add(String(addr)) })
  c.on('update', () => { c.updates++ })
  c.on('warning', err => report(name + ' warning', false, { error: String(err && err.message) }))
  c.on('error', err => report(name + ' error', false, { error: String(err && err.message) }))
  return c
}

function waitFor (cond, ms) {
  return new Promise(resolve => {
    const t0 = Date.now()
    const tick = () => {
      if (cond()) return resolve(true)
      if (Date.now() - t0 > ms) return resolve(false)
      setTimeout(tick, 50)
    }
    tick()
  })
}

function scrape () {
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve({ error: 'scrape timed out' }), STEP_MS)
    // Client quirk (bittorrent-tracker 11.2.3): over UDP a hex-string infoHash is sent as its
    // 40 ASCII characters, i.e. two bogus 20-byte hashes; the UDP scraper needs bytes, the HTTP
    // scraper needs hex.
    const ih = url.startsWith('udp:') ? Buffer.from(infoHash, 'hex') : infoHash
    Client.scrape({ announce: url, infoHash: ih }, (err, data) => {
      clearTimeout(timer)
      if (err) return resolve({ error: String(err.message || err) })
      resolve({ complete: data.complete, incomplete: data.incomplete, downloaded: data.downloaded })
    })
  })
}

async function expectScrape (step, complete, incomplete, downloaded) {
  // Announces are answered before the tracker's reply reaches the client, so the counts are
  // settled when the announcing client saw its reply; still allow a few tries.
  let got
  for (let i = 0; i < 5; i++) {
    got = await scrape()
    if (got.complete === complete && got.incomplete === incomplete && got.downloaded === downloaded) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const ok = got.complete === complete && got.incomplete === incomplete &&
    got.downloaded === downloaded
  report(step, ok, { want: { complete, incomplete, downloaded }, got })
}

// The offers made since seen[mark] (by the client that announced then): did the tracker
// deliver them to the other client (remote offers) and that client's answers back to the
// connection that made each offer? Returns the facts for the report.
function relayState (mark) {
  const made = new Map(seen.slice(mark).filter(e => e.side === 'local' && e.type === 'offer')
    .map(e => [e.sdp, e.pc]))
  const delivered = seen.filter(e => e.side === 'remote' && e.type === 'offer' && made.has(e.sdp))
  const strayOffers = seen.filter(e => e.side === 'remote' && e.type === 'offer' &&
    !made.has(e.sdp) && seen.indexOf(e) >= mark)
  const answered = delivered.filter(d => {
    const ans = seen.find(e => e.side === 'local' && e.type === 'answer' && e.pc === d.pc)
    return ans && seen.some(e => e.side === 'remote' && e.type === 'answer' &&
      e.sdp === ans.sdp && e.pc === made.get(d.sdp))
  })
  return { made: made.size, delivered: delivered.length, answered: answered.length, stray: strayOffers.length }
}

async function expectRelay (step, mark) {
  const ok = await waitFor(() => relayState(mark).answered >= 1, STEP_MS)
  await new Promise(resolve => setTimeout(resolve, 300)) // anything more would arrive now
  const st = relayState(mark)
  report(step, ok && st.delivered === 1 && st.answered === 1 && st.stray === 0, st)
}

async function mainWs () {
  const a = makeClient('A', portA, 0)
  const b = makeClient('B', portB, 1000)
  a.start()
  report('A (seeder) gets an announce reply', await waitFor(() => a.updates >= 1, STEP_MS))
  await expectScrape('scrape after A started', 1, 0, 0)

  let mark = seen.length
  b.start()
  await expectRelay('one offer of B reaches A, A\'s answer reaches that connection of B', mark)
  await expectScrape('scrape with one seeder and one leecher', 1, 1, 0)

  mark = seen.length
  a.update()
  await expectRelay('on A\'s next announce one offer of A reaches B, B\'s answer reaches A', mark)
  return [a, b]
}

async function main () {
  const watchdog = setTimeout(() => {
    report('driver finished within 60 s', false)
    process.exit(1)
  }, 60000)
  const [a, b] = overWs ? await mainWs() : await mainAddr()

  b.left = 0
  const bBefore = b.updates
  b.complete()
  report('B\'s completed announce is answered', await waitFor(() => b.updates > bBefore, STEP_MS))
  await expectScrape('scrape after B completed', 2, 0, 1)

  const ua = a.updates
  const ub = b.updates
  a.stop()
  b.stop()
  report('stopped announces are answered',
    await waitFor(() => a.updates > ua && b.updates > ub, STEP_MS))
  await expectScrape('scrape after both stopped', 0, 0, 1)

  a.destroy()
  b.destroy()
  clearTimeout(watchdog)
  process.exit(failed ? 1 : 0)
}

async function mainAddr () {
  const a = makeClient('A', portA, 0)
  const b = makeClient('B', portB, 1000)
  const addrA = (host === '::1' ? '[::1]' : host) + ':' + portA
  const addrB = (host === '::1' ? '[::1]' : host) + ':' + portB

  a.start()
  report('A (seeder) gets an announce reply', await waitFor(() => a.updates >= 1, STEP_MS))
  await expectScrape('scrape after A started', 1, 0, 0)

  b.start()
  const bFound = await waitFor(() => b.peers.has(addrA), STEP_MS)
  report('B (leecher) is given A by the tracker', bFound, { peers: [...b.peers], want: addrA })
  report('B is not given itself', !b.peers.has(addrB), { peers: [...b.peers] })
  await expectScrape('scrape with one seeder and one leecher', 1, 1, 0)

  const before = a.updates
  a.update()
  const aFound = await waitFor(() => a.updates > before && a.peers.has(addrB), STEP_MS)
  report('A is given B on its next announce', aFound, { peers: [...a.peers], want: addrB })
  return [a, b]
}

main().catch(err => {
  report('driver ran without exceptions', false, { error: String(err && err.stack) })
  process.exit(1)
})
