// Command read-errors reads Breakerbox error details the way a Go agent does
// (google.golang.org/grpc/status: st.Details()).
//
// stdin: a JSON list of calls, each {"method": "Report", "request": {...}
// (proto JSON), "metadata": {...}, "raw": "<base64>" (optional: send these
// bytes instead of the request)}. For each call it prints one JSON line: code,
// reason, domain, metadata, retryDelayMs and fieldViolations, read from the
// status details. Argument: the server address (host:port).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

type call struct {
	Method   string            `json:"method"`
	Request  json.RawMessage   `json:"request"`
	Metadata map[string]string `json:"metadata"`
	Raw      []byte            `json:"raw"`
}

type result struct {
	Code            int               `json:"code"`
	Reason          *string           `json:"reason"`
	Domain          *string           `json:"domain"`
	Metadata        map[string]string `json:"metadata"`
	RetryDelayMs    *int64            `json:"retryDelayMs"`
	FieldViolations []string          `json:"fieldViolations"`
}

// rawCodec sends []byte as is (an undecodable request) and protobuf otherwise.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.(*[]byte); ok {
		return *b, nil
	}
	return proto.Marshal(v.(proto.Message))
}
func (rawCodec) Unmarshal(data []byte, v any) error { return proto.Unmarshal(data, v.(proto.Message)) }
func (rawCodec) Name() string                       { return "proto" }

func describe(err error) result {
	st := status.Convert(err)
	out := result{Code: int(st.Code()), Metadata: map[string]string{}, FieldViolations: []string{}}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			out.Reason, out.Domain, out.Metadata = &d.Reason, &d.Domain, d.Metadata
			if out.Metadata == nil {
				out.Metadata = map[string]string{}
			}
		case *errdetails.RetryInfo:
			ms := d.RetryDelay.AsDuration().Milliseconds()
			out.RetryDelayMs = &ms
		case *errdetails.BadRequest:
			for _, v := range d.FieldViolations {
				out.FieldViolations = append(out.FieldViolations, v.Field)
			}
		}
	}
	return out
}

func run(conn *grpc.ClientConn, c call) result {
	service := breakerboxv1.File_breakerbox_v1_breakerbox_proto.Services().ByName("CircuitService")
	method := service.Methods().ByName(protoreflect.Name(c.Method))
	path := fmt.Sprintf("/%s/%s", service.FullName(), method.Name())
	var request any
	if c.Raw != nil {
		request = &c.Raw
	} else {
		m := dynamicpb.NewMessage(method.Input())
		if len(c.Request) > 0 {
			if err := protojson.Unmarshal(c.Request, m); err != nil {
				panic(err)
			}
		}
		request = m
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for k, v := range c.Metadata {
		ctx = metadata.AppendToOutgoingContext(ctx, k, v)
	}
	opts := []grpc.CallOption{grpc.ForceCodec(rawCodec{})}
	var err error
	if method.IsStreamingServer() {
		var stream grpc.ClientStream
		stream, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, path, opts...)
		if err == nil {
			err = stream.SendMsg(request)
		}
		if err == nil {
			err = stream.CloseSend()
		}
		for err == nil {
			err = stream.RecvMsg(dynamicpb.NewMessage(method.Output()))
		}
		if err == io.EOF {
			err = nil
		}
	} else {
		err = conn.Invoke(ctx, path, request, dynamicpb.NewMessage(method.Output()), opts...)
	}
	if err == nil {
		return result{Code: 0, Metadata: map[string]string{}, FieldViolations: []string{}}
	}
	return describe(err)
}

func main() {
	var calls []call
	if err := json.NewDecoder(os.Stdin).Decode(&calls); err != nil {
		panic(err)
	}
	conn, err := grpc.NewClient(os.Args[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	out := json.NewEncoder(os.Stdout)
	for _, c := range calls {
		if err := out.Encode(run(conn, c)); err != nil {
			panic(err)
		}
	}
}
