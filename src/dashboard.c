/* dashboard.c - /dashboard and /stats.json.
 *
 * The page is a C string rather than a file next to the binary so that swarmd stays one
 * self-contained executable that works after chroot. It polls /stats.json every two seconds
 * and derives rates from the difference of two polls over the browser's clock (the server
 * keeps no history, and its clock has a one-second grain). Numbers
 * go into elements with stable ids (also carried in data-v) for the browser test. */
#include "dashboard.h"

#include <pthread.h>
#include <string.h>

#include "stats_text.h"

struct blob *dashboard_json(const struct stats_snapshot *s, const struct top_lists *tl,
                            uint32_t now)
{
    static const char hex[] = "0123456789abcdef";
    const uint64_t *c = s->sum;
    struct text t;
    text_init(&t, 4096 + STAT_COUNT * 64 + DASHBOARD_TOP * 160);

    uint64_t http = c[STAT_HTTP_ANNOUNCE] + c[STAT_HTTP_SCRAPE] + c[STAT_HTTP_FULLSCRAPE];
    uint64_t udp = c[STAT_UDP_CONNECT] + c[STAT_UDP_ANNOUNCE] + c[STAT_UDP_SCRAPE];
    uint64_t errors = c[STAT_HTTP_FAILURE] + c[STAT_HTTP_BAD_REQUEST] + c[STAT_HTTP_NOT_FOUND] +
                      c[STAT_HTTP_BAD_METHOD] + c[STAT_UDP_MALFORMED] + c[STAT_UDP_BAD_CONNID];
    tprintf(&t, "{\"version\":\"%s\",\"now\":%u,\"uptime\":%u,\"workers\":%u,", SWARMD_VERSION,
            now, s->uptime, s->workers);
    tprintf(&t, "\"torrents\":%llu,\"peers\":%llu,\"peers_ipv4\":%llu,\"peers_ipv6\":%llu,"
                "\"peers_websocket\":%llu,\"seeders\":%llu,\"leechers\":%llu,\"completed\":%llu,\"store_bytes\":%llu,",
            (unsigned long long)s->store.torrents,
            (unsigned long long)(s->store.peers4 + s->store.peers6 + s->store.peers_ws),
            (unsigned long long)s->store.peers4, (unsigned long long)s->store.peers6,
            (unsigned long long)s->store.peers_ws,
            (unsigned long long)s->store.seeders, (unsigned long long)s->store.leechers,
            (unsigned long long)c[STAT_COMPLETED], (unsigned long long)s->store.bytes);
    tprintf(&t, "\"requests_http\":%llu,\"requests_udp\":%llu,\"errors\":%llu,",
            (unsigned long long)http, (unsigned long long)udp, (unsigned long long)errors);
    tprintf(&t, "\"counters\":{");
    for (unsigned k = 0; k < STAT_COUNT; k++)
        tprintf(&t, "%s\"%s\":%llu", k ? "," : "", stat_name((enum stat_counter)k),
                (unsigned long long)c[k]);
    tprintf(&t, "},\"top\":[");
    for (unsigned i = 0; i < tl->n && i < DASHBOARD_TOP; i++) {
        const struct store_entry *e = &tl->by_peers[i];
        char h[2 * INFO_HASH_LEN + 1];
        for (int j = 0; j < INFO_HASH_LEN; j++) {
            h[2 * j] = hex[e->hash[j] >> 4];
            h[2 * j + 1] = hex[e->hash[j] & 15];
        }
        h[2 * INFO_HASH_LEN] = '\0';
        tprintf(&t, "%s{\"hash\":\"%s\",\"seeders\":%u,\"leechers\":%u,\"completed\":%u}",
                i ? "," : "", h, e->c.seeders, e->c.leechers, e->c.completed);
    }
    tprintf(&t, "]}\n");
    return text_done(&t);
}

static const char page[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
    "<title>swarmd</title>\n"
    /* No favicon request: it would be a 404 counted among the errors the page shows. */
    "<link rel=\"icon\" href=\"data:,\">\n"
    "<style>\n"
    "body{font:15px/1.4 system-ui,sans-serif;margin:0;padding:12px;background:#f6f7f9;"
    "color:#222}\n"
    "h1{font-size:20px;margin:0 0 8px}\n"
    "#grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}\n"
    ".c{background:#fff;border-radius:6px;padding:8px 10px;box-shadow:0 1px 2px #0002}\n"
    ".c span{display:block;color:#666;font-size:12px}\n"
    ".c b{font-size:22px;font-variant-numeric:tabular-nums}\n"
    "canvas{width:100%;height:120px;background:#fff;border-radius:6px;margin-top:8px}\n"
    "table{border-collapse:collapse;width:100%;background:#fff;margin-top:8px;"
    "font-size:13px}\n"
    "td,th{padding:4px 6px;text-align:right;border-bottom:1px solid #eee}\n"
    "td:first-child,th:first-child{text-align:left;font-family:monospace;"
    "word-break:break-all}\n"
    "#status{color:#a00;font-size:12px}\n"
    "</style></head><body>\n"
    "<h1>swarmd <small id=\"version\"></small></h1>\n"
    "<div id=\"status\">loading&hellip;</div>\n"
    "<div id=\"grid\">\n"
    "<div class=\"c\"><span>HTTP requests/s</span><b id=\"rate_http\">-</b></div>\n"
    "<div class=\"c\"><span>UDP requests/s</span><b id=\"rate_udp\">-</b></div>\n"
    "<div class=\"c\"><span>torrents</span><b id=\"torrents\">-</b></div>\n"
    "<div class=\"c\"><span>peers</span><b id=\"peers\">-</b></div>\n"
    "<div class=\"c\"><span>seeders</span><b id=\"seeders\">-</b></div>\n"
    "<div class=\"c\"><span>leechers</span><b id=\"leechers\">-</b></div>\n"
    "<div class=\"c\"><span>IPv4 peers</span><b id=\"peers_ipv4\">-</b></div>\n"
    "<div class=\"c\"><span>IPv6 peers</span><b id=\"peers_ipv6\">-</b></div>\n"
    "<div class=\"c\"><span>completed</span><b id=\"completed\">-</b></div>\n"
    "<div class=\"c\"><span>errors</span><b id=\"errors\">-</b></div>\n"
    "<div class=\"c\"><span>HTTP requests</span><b id=\"requests_http\">-</b></div>\n"
    "<div class=\"c\"><span>UDP requests</span><b id=\"requests_udp\">-</b></div>\n"
    "<div class=\"c\"><span>uptime</span><b id=\"uptime\">-</b></div>\n"
    "</div>\n"
    "<canvas id=\"chart\" width=\"600\" height=\"120\"></canvas>\n"
    "<table><thead><tr><th>top swarms</th><th>seeders</th><th>leechers</th>"
    "<th>completed</th></tr></thead><tbody id=\"top\"></tbody></table>\n"
    "<script>\n"
    "'use strict';\n"
    "var prev=null,hist=[];\n"
    "function $(i){return document.getElementById(i);}\n"
    "function put(i,v,txt){var e=$(i);e.dataset.v=v;e.textContent=txt===undefined?v:txt;}\n"
    "function dur(s){var d=Math.floor(s/86400),h=Math.floor(s%86400/3600),"
    "m=Math.floor(s%3600/60);return (d?d+'d ':'')+h+'h '+m+'m '+s%60+'s';}\n"
    "function draw(){var c=$('chart'),g=c.getContext('2d'),w=c.width,h=c.height;"
    "g.clearRect(0,0,w,h);var mx=1;hist.forEach(function(p){mx=Math.max(mx,p[0],p[1]);});"
    "[['#2a6fdb',0],['#d9822b',1]].forEach(function(s){g.strokeStyle=s[0];g.beginPath();"
    "hist.forEach(function(p,i){var x=w-(hist.length-1-i)*w/59,y=h-4-p[s[1]]*(h-8)/mx;"
    "if(i)g.lineTo(x,y);else g.moveTo(x,y);});g.stroke();});}\n"
    "function show(d){\n"
    " ['torrents','peers','seeders','leechers','peers_ipv4','peers_ipv6','completed',"
    "'errors','requests_http','requests_udp'].forEach(function(k){put(k,d[k]);});\n"
    " put('uptime',d.uptime,dur(d.uptime));$('version').textContent=d.version;\n"
    " d.t=Date.now();if(prev&&d.t>prev.t){var dt=(d.t-prev.t)/1000,"
    "rh=(d.requests_http-prev.requests_http)/dt,ru=(d.requests_udp-prev.requests_udp)/dt;"
    "put('rate_http',rh,rh.toFixed(1));put('rate_udp',ru,ru.toFixed(1));"
    "hist.push([rh,ru]);if(hist.length>60)hist.shift();draw();}\n"
    " prev=d;\n"
    " var tb=$('top');tb.textContent='';d.top.forEach(function(t){var r=tb.insertRow();"
    "[t.hash,t.seeders,t.leechers,t.completed].forEach(function(v){"
    "r.insertCell().textContent=v;});});\n"
    " $('status').textContent='';}\n"
    "function poll(){fetch('stats.json',{cache:'no-store'}).then(function(r){"
    "if(!r.ok)throw new Error('HTTP '+r.status);return r.json();}).then(show)"
    ".catch(function(e){$('status').textContent='cannot reach swarmd: '+e.message;})"
    ".then(function(){setTimeout(poll,2000);});}\n"
    "poll();\n"
    "</script></body></html>\n";

static pthread_once_t page_once = PTHREAD_ONCE_INIT;
static struct blob *page_blob;

static void page_build(void)
{
    page_blob = blob_new(sizeof page - 1);
    if (page_blob)
        memcpy(page_blob->data, page, sizeof page - 1);
}

struct blob *dashboard_page(void)
{
    pthread_once(&page_once, page_build);
    return page_blob ? blob_ref(page_blob) : NULL;
}
