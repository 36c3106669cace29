// Package deploy holds salon's tested deployment configurations: nginx/ is
// nginx in front of several salon nodes (docs/deploy.md). Its tests build
// salon, start three nodes on a NATS cluster and the shipped nginx
// configuration in front of them, all on loopback ports, and read a live
// stage through it; a benchmark puts thousands of viewers behind it.
package deploy
