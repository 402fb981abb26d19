# Builds the operator into a distroless, non-root image.
# hack/image/dockerfile_test.go checks that every package folder the binary
# imports is copied into the build stage; `make image` builds the same image
# without a container engine.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY apis/ apis/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY pkg/ pkg/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" -o /nauthera ./cmd/nauthera

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /nauthera /nauthera
USER 65532:65532
ENTRYPOINT ["/nauthera"]
