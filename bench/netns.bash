# bench/netns.bash, sourced by bench/run and bench/sftp: the veth network
# of --net veth. Loopback takes shortcuts a network never does (a 64 KiB
# MTU, no device, no checksums, the receiver's copy is the only one), so
# code shaped by it can lose on a real link. net_use_veth creates the
# network namespaces ferrybench-srv and ferrybench-cli joined by a veth
# pair (MTU 1500, the kernel's default offloads) with addresses from
# 198.18.0.0/15, the range RFC 2544 reserves for benchmarks: 198.18.0.1/30
# on the server side, 198.18.0.2/30 on the client side, and points HOST,
# SRV and CLI at them; net_down removes them (and any an interrupted run
# left). Without net_use_veth, HOST is 127.0.0.1 and SRV and CLI run
# commands as they are. NET_RATE (such as 1gbit), when set, shapes both
# directions of the pair to that rate with a token bucket (tc tbf: this
# kernel has no netem, so no delay can be added).

NS_SRV=ferrybench-srv NS_CLI=ferrybench-cli
VETH_SRV=fbench-srv VETH_CLI=fbench-cli
HOST=127.0.0.1
SRV=() CLI=()
net_down() {
	local ns pid
	for ns in "$NS_SRV" "$NS_CLI"; do
		ip netns list | grep -qw "^$ns" || continue
		# Processes an interrupted run left in our namespaces, by PID.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
		ip netns del "$ns"
	done
	# The pair goes with its namespaces; this is for one left half made.
	ip link del "$VETH_SRV" 2>/dev/null || true
	ip link del "$VETH_CLI" 2>/dev/null || true
}
net_up() {
	ip netns add "$NS_SRV"
	ip netns add "$NS_CLI"
	# Both ends are created inside their namespaces: no device of the
	# benchmark ever appears in this host's own network.
	ip link add "$VETH_SRV" netns "$NS_SRV" type veth peer name "$VETH_CLI" netns "$NS_CLI"
	ip -n "$NS_SRV" addr add 198.18.0.1/30 dev "$VETH_SRV"
	ip -n "$NS_CLI" addr add 198.18.0.2/30 dev "$VETH_CLI"
	for ns in "$NS_SRV" "$NS_CLI"; do ip -n "$ns" link set lo up; done
	ip -n "$NS_SRV" link set "$VETH_SRV" up
	ip -n "$NS_CLI" link set "$VETH_CLI" up
	if [ -n "${NET_RATE:-}" ]; then
		# A burst larger than a GSO packet (64 KiB), a queue of 20 ms.
		local ns dev
		for ns in "$NS_SRV" "$NS_CLI"; do
			dev=$VETH_SRV
			[ "$ns" = "$NS_SRV" ] || dev=$VETH_CLI
			tc -n "$ns" qdisc add dev "$dev" root tbf rate "$NET_RATE" burst 512kb latency 20ms
		done
	fi
}
net_use_veth() {
	net_down # leftovers of an interrupted run
	net_up
	HOST=198.18.0.1
	SRV=(ip netns exec "$NS_SRV")
	CLI=(ip netns exec "$NS_CLI")
}
