package main

import "fmt"

// The app-cookie churn route: one signed-in session whose Cookie header also carries
// an app cookie new on every request, as Laravel re-encrypts its cookies with a fresh
// IV on every response or a rolling CSRF token changes. Every request's header is new
// to ags's view cache while its session is one ags has opened: the route measures a
// cache miss that does not open the session again but works out and stores a view.

// The churn route's middleware has a cache of its own (main.go): churnCacheSize,
// its cacheSize option, is churnCacheMiB.
const (
	churnCacheSize = "8MiB"
	churnCacheMiB  = 8
)

// churnCookie is the app cookie whose value changes on every request.
const churnCookie = "XSRF-TOKEN"

// churnScript is a wrk script whose requests carry cookie (the session between
// cookieBefore and cookieAfter) and churnCookie with a value made of the script's
// argument, the wrk thread and the request's number: distinct per request, thread
// and run, as long as each run gets an argument of its own (a value from an earlier
// run would hit the cache). A second argument, if any, stops each thread after that
// many answers (the session flood, -session-flood). It sets every header, as
// luaScript does.
func churnScript(cookie, app string) string {
	return fmt.Sprintf(`-- written by traefikbench: one session, an app cookie new on every request
local host, cookie = %q, %q
`+luaThreadID+luaStopAfter+`
local run, n = "", 0

function init(args)
  run = args[1]
  if run == nil then error("want the run's number as the argument") end
  stopAfter(tonumber(args[2]))
end

function request()
  n = n + 1
  return wrk.format("GET", nil, {
    ["Host"] = host,
    ["Cookie"] = string.format("%%s; %s=%%s-%%d-%%d", cookie, run, id, n),
%s  })
end
`, luaHost(app), cookie, churnCookie, luaHeaders("    "))
}
