// webtorrent's JavaScript tracker (npm bittorrent-tracker Server), WebSocket only, for
// bench/ws_relay.py:  node server.mjs PORT   (prints "listening PORT" when ready)
import Server from 'bittorrent-tracker/server'

const port = Number(process.argv[2])
const server = new Server({ http: false, udp: false, ws: true, stats: false })
server.on('error', err => { console.error('server error: ' + err.message) })
server.on('warning', () => {}) // unknown answers and the like: not the bench's business
server.listen(port, '127.0.0.1', () => { console.log('listening ' + port) })
