package ftpserver

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"

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
// address's slot until it ends: an address cannot start hash after hash
// by hanging up.
func TestLoginSlotOutlastsAbandonedHash(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := &Server{MaxLoginChecksPerIP: 1}
		ip := netip.MustParseAddr("192.0.2.7")

		// The first login's hash runs until hashDone; its client hangs
		// up at once. No fail delay: the slot would go back at once.
		hashDone := make(chan struct{})
		ctx, hangUp := context.WithCancel(t.Context())
		returned := make(chan error, 1)
		go func() {
			_, err := srv.checkLogin(ctx, ip, 0, func(ctx context.Context) (*Account, error) {
				ended := lingering.Start(ctx)
				go func() {
					<-hashDone
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

		// The second waits for the slot until the hash has ended.
		began := make(chan struct{})
		go srv.checkLogin(t.Context(), ip, 0, func(context.Context) (*Account, error) {
			close(began)
			return nil, ErrAuthFailed
		})
		synctest.Wait()
		select {
		case <-began:
			t.Fatal("a second check began while the abandoned one's hash still ran")
		default:
		}
		close(hashDone)
		synctest.Wait()
		select {
		case <-began:
		default:
			t.Fatal("the second check did not begin once the hash had ended")
		}
	})
}
