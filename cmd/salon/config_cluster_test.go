package main

import (
	"os"
	"testing"
)

func TestParseConfig_cluster(t *testing.T) {
	host, _ := os.Hostname()
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    ClusterConfig
		wantErr string
	}{
		{name: "off by default", want: ClusterConfig{}},
		{name: "flags", args: []string{"-nats", "nats://10.0.0.1:4222,nats://10.0.0.2:4222", "-node", "hall-a", "-nats-replicas", "3", "-node-url", "http://10.0.0.2:8080/"},
			want: ClusterConfig{NATS: "nats://10.0.0.1:4222,nats://10.0.0.2:4222", Node: "hall-a", Replicas: 3, NodeURL: "http://10.0.0.2:8080"}},
		{name: "env, node defaults to the hostname", env: map[string]string{"SALON_NATS": "nats://127.0.0.1:4222", "SALON_NODE_URL": "https://hall-a.internal"},
			want: ClusterConfig{NATS: "nats://127.0.0.1:4222", Node: host, NodeURL: "https://hall-a.internal"}},
		{name: "flag beats env, the URL from -http", args: []string{"-node", "b", "-http", "10.0.0.3:8080"}, env: map[string]string{"SALON_NATS": "nats://n:4222", "SALON_NODE": "a"},
			want: ClusterConfig{NATS: "nats://n:4222", Node: "b"}},
		{name: "-http on every address needs -node-url", args: []string{"-nats", "nats://n:4222", "-http", "0.0.0.0:8080"}, wantErr: "-node-url: -http \"0.0.0.0:8080\" listens on every address"},
		{name: "-http :8080 needs -node-url", args: []string{"-nats", "nats://n:4222"}, wantErr: "-node-url http://10.0.0.2:8080"},
		{name: "node url not http", args: []string{"-nats", "nats://n:4222", "-node-url", "nats://10.0.0.2:8080"}, wantErr: "-node-url"},
		{name: "node url with a path", args: []string{"-nats", "nats://n:4222", "-node-url", "http://10.0.0.2:8080/salon"}, wantErr: "-node-url"},
		{name: "node url without nats", args: []string{"-node-url", "http://10.0.0.2:8080"}, wantErr: "-node-url needs -nats"},
		{name: "no port", args: []string{"-nats", "nats://10.0.0.1"}, wantErr: "-nats"},
		{name: "not nats", args: []string{"-nats", "http://10.0.0.1:4222"}, wantErr: "-nats"},
		{name: "bad node", args: []string{"-nats", "nats://n:4222", "-node", "大厅"}, wantErr: "-node"},
		{name: "replicas without nats", args: []string{"-nats-replicas", "3"}, wantErr: "-nats-replicas needs -nats"},
		{name: "bad replicas", env: map[string]string{"SALON_NATS": "nats://n:4222", "SALON_NATS_REPLICAS": "9"}, wantErr: "-nats-replicas"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := parseCase(t, tc.args, tc.env, tc.wantErr)
			if !ok {
				return
			}
			if c.Cluster != tc.want {
				t.Fatalf("Cluster = %+v, want %+v", c.Cluster, tc.want)
			}
		})
	}
}
