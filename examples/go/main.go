// The switchyard example in Go: load a config with a real plugin chain
// (static_routes), plan a request, connect along the plan to a loopback echo
// server started here (past a dead first route), print the plan and every
// attempt, and echo "ping" through the connection.
//
//	SY_PLUGIN_DIR=build/plugins go run .
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"switchyard.dev/switchyard"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	// The live server: echoes what it reads.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	live := ln.Addr().(*net.TCPAddr).Port

	// A dead port: listened on once, then closed, so a connect is refused.
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	dead := dl.Addr().(*net.TCPAddr).Port
	dl.Close()

	pluginDir := os.Getenv("SY_PLUGIN_DIR")
	if pluginDir == "" {
		pluginDir = "build/plugins"
	}
	dir, _ := json.Marshal(pluginDir)
	config := fmt.Sprintf(`{
  "plugin_path": [%s],
  "topology": {"nodes": []},
  "selector": {"plugin": "static_routes", "config": {"routes": [
    {"pattern": "^svc$", "weight": 10, "host": "127.0.0.1", "port": %d},
    {"pattern": "^svc.*", "weight": 5, "host": "127.0.0.1", "port": %d}]}},
  "connect": {"timeout_ms": 2000}
}`, dir, dead, live)

	router, err := switchyard.OpenConfig([]byte(config), nil)
	if err != nil {
		return err
	}
	defer router.Close()

	req := &switchyard.Request{Node: "svc"}
	plan, err := router.Plan(req)
	if err != nil {
		return err
	}
	fmt.Printf("plan for node %q (switchyard %s):\n", req.Node, switchyard.Version())
	for i, t := range plan {
		fmt.Printf("%d  %s  %s:%d  dc=%s rack=%s shard=%s weight=%s tls=%s  via %s\n", i+1, t.Node, t.Host, t.Port,
			orDash(t.Datacenter), orDash(t.Rack), intOrDash(t.Shard), intOrDash(t.Weight), yesNo(t.TLS),
			strings.Join(t.Via, " > "))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := router.Connect(ctx, req)
	if err != nil {
		return err
	}
	defer conn.Close()
	for i, a := range conn.Attempts() {
		what := "connected"
		if a.Err != nil {
			what = a.Outcome.String()
		}
		line := fmt.Sprintf("attempt %d: %s %s:%d  %s  %.3f ms  %s", i+1, a.Node, a.Host, a.Port, what,
			float64(a.Elapsed)/float64(time.Millisecond), a.Message)
		fmt.Println(strings.TrimRight(line, " "))
	}
	info := conn.Info()
	fmt.Printf("connected: %s %s:%d via %s\n", info.Node, info.Host, info.Port, info.Peer)

	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	fmt.Printf("echo: %s\n", buf)
	if string(buf) != "ping" {
		return fmt.Errorf("echoed %q", buf)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func intOrDash(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
