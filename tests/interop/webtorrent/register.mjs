// node --import ./register.mjs driver.mjs ...: installs the hooks of stub-webrtc.mjs.
import { register } from 'node:module'
register('./stub-webrtc.mjs', import.meta.url)
