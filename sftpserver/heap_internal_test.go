package sftpserver

import (
	"runtime/debug"
	"testing"
)

func TestHeapRoomPercent(t *testing.T) {
	const MiB = 1 << 20
	for _, tc := range []struct {
		base       int
		room, live int64
		want       int
	}{
		{100, 32 * MiB, 1 * MiB, 800},   // below the runtime's 4 MiB minimum: 4 MiB assumed
		{100, 32 * MiB, 16 * MiB, 200},  // 16 + 32
		{100, 32 * MiB, 24 * MiB, 134},  // rounded up: never less room than asked
		{100, 32 * MiB, 32 * MiB, 100},  // the base leaves room enough
		{100, 32 * MiB, 512 * MiB, 100}, // never below the base
		{300, 32 * MiB, 16 * MiB, 300},
		{100, 1 << 60, 4 * MiB, 1 << 20}, // capped
	} {
		if got := heapRoomPercent(tc.base, tc.room, tc.live); got != tc.want {
			t.Errorf("heapRoomPercent(%d, %d MiB, %d MiB) = %d, want %d", tc.base, tc.room/MiB, tc.live/MiB, got, tc.want)
		}
	}
}

// TestHoldHeapRoom: holds of different rooms count apart, the largest
// wins, a release is idempotent, and the last one restores the base.
func TestHoldHeapRoom(t *testing.T) {
	t.Setenv("GOGC", "")
	old := setGCPercentForTest(100)
	defer setGCPercentForTest(old)
	small := holdHeapRoom(8 << 20)
	p8 := gcPercent()
	large := holdHeapRoom(256 << 20)
	p256 := gcPercent()
	if p8 <= 100 || p256 <= p8 {
		t.Fatalf("percent with 8 MiB held %d, with 256 MiB too %d: want 100 < first < second", p8, p256)
	}
	large()
	large() // a second release changes nothing
	if p := gcPercent(); p >= p256 || p <= 100 {
		t.Errorf("percent after releasing the larger room: %d, want between 100 and %d", p, p256)
	}
	small()
	if p := gcPercent(); p != 100 {
		t.Errorf("percent after the last release: %d, want 100", p)
	}
	if holdHeapRoom(0)(); gcPercent() != 100 {
		t.Errorf("a zero room changed the percent")
	}
}

func setGCPercentForTest(p int) int { return debug.SetGCPercent(p) }
