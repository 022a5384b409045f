package ags

import "encoding/json"

// redactedOptions are the options whose values never reach a log line.
var redactedOptions = []string{"clientSecret", "sessionSecret", "clientPrivateKey"}

// logEffectiveConfig logs, with debug on, the configuration as ags received and
// resolved it (environment and defaults filled in), secrets redacted: Traefik drops
// options the Config does not know without a word, so this line is where a user
// sees what took effect. It also names the client's public key, to register it.
func logEffectiveConfig(log *logger, resolved *Config, s *settings) {
	if !s.debug {
		return
	}
	log.debugf("effective configuration: %s", resolved.redacted())
	log.debugf("client authentication: %s", s.clientAuth.summary())
}

// redacted is the configuration as JSON with every secret replaced by "[redacted]".
func (c *Config) redacted() string {
	r := *c
	for _, name := range redactedOptions {
		if p := optionNamed(name).field(&r); *p != "" {
			*p = "[redacted]"
		}
	}
	r.RevocationStore = redactedStore(r.RevocationStore)
	b, err := json.Marshal(&r)
	if err != nil {
		return "(cannot be shown: " + err.Error() + ")"
	}
	return string(b)
}
