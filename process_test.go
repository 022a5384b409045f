package ags

import (
	"strconv"
	"testing"
)

// TestInstancesOfOneConfigurationShareCaches: Traefik builds an instance per router
// and again at every configuration change. Instances with the same options serve
// the views that another made (no session opened again after a reload); one
// option changed gives caches of their own, and the headers of that option.
func TestInstancesOfOneConfigurationShareCaches(t *testing.T) {
	first := cacheMiddleware(t, "")
	line := newSessionLine(t, first, ckSession(t, 900))
	if serveLine(first, "/admin/x", line) == "" {
		t.Fatal("not signed in")
	}
	reloaded := cacheMiddleware(t, "")
	if reloaded.views != first.views || reloaded.paths != first.paths {
		t.Fatal("an instance of the same configuration has caches of its own: a reload starts cold")
	}
	if viewOfLine(reloaded.views, line) == nil {
		t.Fatal("the view is not in the reloaded instance's cache")
	}
	if serveLine(reloaded, "/admin/x", line) == "" {
		t.Error("the reloaded instance does not serve the session")
	}

	other := cacheMiddleware(t, "32MiB")
	if other.views == first.views {
		t.Fatal("an instance with another cacheSize shares the cache")
	}
	c := cacheConfig(t, "")
	c.IdentityHeaders["sub"] = "X-Subject"
	withHeader := cacheInstance(t, c, "X-Subject")
	if withHeader.views == first.views {
		t.Fatal("an instance with other identityHeaders shares the cache")
	}
	if got := serveLine(withHeader, "/admin/x", line); got == "" {
		t.Error("the instance with identityHeaders did not set its header: it was served another configuration's view")
	}
}

// TestSharedCachesBounded: the process keeps the caches of at most
// maxSharedConfigs configurations for the instances to come.
func TestSharedCachesBounded(t *testing.T) {
	first := cacheMiddleware(t, "1MiB")
	for i := 0; i < maxSharedConfigs; i++ {
		cacheMiddleware(t, strconv.Itoa(2+i)+"MiB")
	}
	sharedCaches.mu.Lock()
	n := len(sharedCaches.byConfig)
	sharedCaches.mu.Unlock()
	if n > maxSharedConfigs {
		t.Errorf("the process keeps the caches of %d configurations, want at most %d", n, maxSharedConfigs)
	}
	if again := cacheMiddleware(t, "1MiB"); again.views == first.views {
		t.Error("the least recently built configuration's caches were kept past the bound")
	}
}
