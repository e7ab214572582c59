package sftpserver

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Why uploads raise the garbage collector's percent (Server.UploadHeapRoom):
// x/crypto/ssh hands every SSH packet it receives over in a buffer of its
// own, so an upload makes about its own size in garbage, in pieces just
// over 32 KiB that the runtime allocates as page runs. A server at rest
// has a live heap of a few MiB, so with GOGC=100 it collects every few
// MiB of upload, and the runtime's scavenger hands the freed pages back
// to the kernel between cycles, so that most packets fault their buffer
// back in. Letting the heap hold a fixed amount of garbage while uploads
// run takes both away; the cost is that memory, bounded, and only then.

// heapRoom is the process-wide state behind UploadHeapRoom: the garbage
// collector's percent is one setting for the whole process, shared by
// every Server.
var heapRoom struct {
	mu      sync.Mutex
	holders map[int64]int // room asked for → uploads holding it
	base    int           // the GC percent to restore
	percent int           // the GC percent set, 0 when not engaged
	stop    chan struct{} // ends the adjusting goroutine
}

// heapRoomPeriod is how often the percent follows the live heap while
// uploads run, so that a heap that grows meanwhile (sessions logging in)
// is not given room in proportion to its new size.
const heapRoomPeriod = 250 * time.Millisecond

// minLiveHeap is the live heap assumed when the runtime reports less:
// its minimum heap goal is 4 MiB scaled by the percent, so a percent
// that leaves room beside 4 MiB leaves at least as much beside a smaller
// heap, and a tiny heap does not ask for an extreme percent.
const minLiveHeap = 4 << 20

// holdHeapRoom asks for room bytes of garbage beside the live heap until
// the returned function is called (once). Nothing is done when room is
// not positive, when the operator chose GOGC in the environment, or when
// collection is off.
func holdHeapRoom(room int64) (release func()) {
	if room <= 0 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	heapRoom.mu.Lock()
	defer heapRoom.mu.Unlock()
	if len(heapRoom.holders) == 0 {
		base := gcPercent()
		if base <= 0 { // off, or unknown
			return func() {}
		}
		heapRoom.base = base
		heapRoom.holders = make(map[int64]int)
		heapRoom.stop = make(chan struct{})
		go followHeap(heapRoom.stop)
	}
	heapRoom.holders[room]++
	adjustHeapRoomLocked()
	var once sync.Once
	return func() { once.Do(func() { releaseHeapRoom(room) }) }
}

func releaseHeapRoom(room int64) {
	heapRoom.mu.Lock()
	defer heapRoom.mu.Unlock()
	if heapRoom.holders[room]--; heapRoom.holders[room] <= 0 {
		delete(heapRoom.holders, room)
	}
	if len(heapRoom.holders) > 0 {
		adjustHeapRoomLocked()
		return
	}
	close(heapRoom.stop)
	if heapRoom.percent != 0 && heapRoom.percent != heapRoom.base {
		debug.SetGCPercent(heapRoom.base)
	}
	heapRoom.holders, heapRoom.stop, heapRoom.percent = nil, nil, 0
}

func followHeap(stop chan struct{}) {
	tick := time.NewTicker(heapRoomPeriod)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			heapRoom.mu.Lock()
			if heapRoom.stop == stop {
				adjustHeapRoomLocked()
			}
			heapRoom.mu.Unlock()
		}
	}
}

// adjustHeapRoomLocked sets the percent that leaves the largest room
// asked for beside the live heap, never below the base percent: a large
// live heap already leaves room enough.
func adjustHeapRoomLocked() {
	var room int64
	for r := range heapRoom.holders {
		room = max(room, r)
	}
	percent := heapRoomPercent(heapRoom.base, room, liveHeap())
	if percent != heapRoom.percent {
		debug.SetGCPercent(percent)
		heapRoom.percent = percent
	}
}

// heapRoomPercent is the GC percent that lets a heap of live bytes grow
// by room before a collection, and never less than base. The runtime
// takes the goal as live × (1 + percent/100).
func heapRoomPercent(base int, room, live int64) int {
	live = max(live, minLiveHeap)
	want := (room*100 + live - 1) / live
	if want <= int64(base) {
		return base
	}
	return int(min(want, 1<<20))
}

// liveHeap is the heap the last collection found live.
func liveHeap() int64 { return int64(readMetric("/gc/heap/live:bytes")) }

// gcPercent is the GC percent in force (GOGC, or as set); 0 when
// unknown, negative when collection is off.
func gcPercent() int { return int(readMetric("/gc/gogc:percent")) }

// readMetric reads one of the runtime's uint64 metrics; 0 when this
// runtime has no such metric.
func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
