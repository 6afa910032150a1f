package main

import (
	"context"
	"log"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	metrics, err := promobs.New(prometheus.DefaultRegisterer) // bulwark_* metrics; serve them with promhttp
	if err != nil {
		log.Fatal(err)
	}
	suite, err := interceptors.New(config.Builtin(), interceptors.WithObserver(metrics))
	if err != nil {
		log.Fatal(err)
	}
	defer suite.Close()
	conn, err := grpc.NewClient("127.0.0.1:50051", append(suite.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	resp, err := kycv1.NewOCRServiceClient(conn).Extract(context.Background(), &kycv1.ExtractRequest{})
	log.Println(resp, err) // go run ./examples/mlstub serves 127.0.0.1:50051
}
