// Package dist holds the files for installing ferry as a service: the
// systemd unit (ferry.service), its logrotate configuration
// (ferry.logrotate) and an example configuration (ferry.toml). Its tests
// check them; README's "Running as a service" explains them.
package dist
