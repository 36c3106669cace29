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
		{name: "flags", args: []string{"-nats", "nats://10.0.0.1:4222,nats://10.0.0.2:4222", "-node", "hall-a", "-nats-replicas", "3"},
			want: ClusterConfig{NATS: "nats://10.0.0.1:4222,nats://10.0.0.2:4222", Node: "hall-a", Replicas: 3}},
		{name: "env, node defaults to the hostname", env: map[string]string{"SALON_NATS": "nats://127.0.0.1:4222"},
			want: ClusterConfig{NATS: "nats://127.0.0.1:4222", Node: host}},
		{name: "flag beats env", args: []string{"-node", "b"}, env: map[string]string{"SALON_NATS": "nats://n:4222", "SALON_NODE": "a"},
			want: ClusterConfig{NATS: "nats://n:4222", Node: "b"}},
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
