// Command app is the end-to-end tests' backend (harness.App) as a program of its own,
// for a container: the Docker test builds it statically into an image FROM scratch.
//
//	app -listen :80
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

func main() {
	listen := flag.String("listen", ":80", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: harness.AppHandler(harness.AppOptions{}),
		ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
