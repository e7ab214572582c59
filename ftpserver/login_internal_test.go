package ftpserver

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ferry-ftp/ferry/internal/lingering"
)

// IPv6 clients count per /64, the block one client is usually given;
// IPv4 clients (mapped or not) per address.
func TestLoginSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"2001:db8:1:3::1", "2001:db8:1:3::"},
		{"::1", "::"},
		{"fe80::1%eth0", "fe80::"},
	} {
		if got := clientSource(netip.MustParseAddr(tc.ip)); got != netip.MustParseAddr(tc.want) {
			t.Errorf("clientSource(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

// A login whose client hung up ends at once for the session, but a hash
// an authenticator left running (auth.CheckPasswordContext) keeps the
// address's slot until it ends, even past the fail delay: an address
// cannot start hash after hash by hanging up.
func TestLoginSlotOutlastsAbandonedHash(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := &Server{MaxLoginChecksPerIP: 1}
		ip := netip.MustParseAddr("192.0.2.7")
		const failDelay, hash = time.Second, 5 * time.Second

		// The first login's hash runs 5 s; its client hangs up at once.
		ctx, hangUp := context.WithCancel(t.Context())
		returned := make(chan error, 1)
		go func() {
			_, err := srv.checkLogin(ctx, ip, failDelay, func(ctx context.Context) (*Account, error) {
				ended := lingering.Start(ctx)
				go func() {
					time.Sleep(hash)
					ended()
				}()
				<-ctx.Done()
				return nil, ctx.Err()
			})
			returned <- err
		}()
		synctest.Wait()
		hangUp()
		if err := <-returned; !errors.Is(err, errClientGone) {
			t.Fatalf("abandoned login: %v, want errClientGone", err)
		}

		// The second waits for the slot until the hash has ended, not
		// only for the fail delay.
		start := time.Now()
		began := make(chan time.Duration, 1)
		go srv.checkLogin(t.Context(), ip, failDelay, func(context.Context) (*Account, error) {
			began <- time.Since(start)
			return nil, ErrAuthFailed
		})
		time.Sleep(2 * failDelay)
		synctest.Wait()
		select {
		case d := <-began:
			t.Fatalf("a second check began %v after the first was abandoned, while its hash still ran", d)
		default:
		}
		if d := <-began; d < hash {
			t.Errorf("the second check began after %v, before the hash's %v", d, hash)
		}
	})
}
