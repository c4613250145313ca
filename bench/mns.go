package main

import (
	"context"
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // the MNS protocol
	"crypto/sha1" //nolint:gosec // the MNS protocol
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/herald-mq/herald/client"
	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/api/cmq"
	"github.com/herald-mq/herald/internal/api/mns"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/nonce"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

func init() {
	register("mns", "MNS API send→receive→delete cycles (16-message batches) vs the same through the CMQ API, over loopback HTTP", benchMNS)
}

// benchMNS runs the queue cycle of benchQueue through both APIs, served by
// one loopback HTTP listener as herald serves them, with the same services
// behind them; the CMQ API is the baseline.
func benchMNS(ctx context.Context, out *report) error {
	eng, closeEng, err := tempEngine(ctx, "herald-bench-mns-")
	if err != nil {
		return err
	}
	defer closeEng()
	svc, err := newBenchQueues(ctx, eng)
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop(context.Background()) }()
	cmqAPI, mnsAPI, err := newBenchAPIs(ctx, eng, svc)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["X-Mns-Version"]; ok {
			mnsAPI.ServeHTTP(w, r)
			return
		}
		cmqAPI.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	base := "http://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * queueWorkers}}
	cmqc := &cmqHTTP{base: base, hc: hc}
	mnsc := &mnsHTTP{base: base, hc: hc}

	// The machines this runs on are shared: load comes and goes over
	// seconds. Short runs of each, alternating, and the median of the
	// per-pair ratios, keep a burst of someone else's work from deciding the
	// figure.
	var ratios, cmqRates, mnsRates, cpuRatios []float64
	for round := range mnsRounds {
		c, cmqCPU, err := cycleRateFor(ctx, mnsRun, func(w int) (func(context.Context) error, error) { return cmqc.cycle(round, w) })
		if err != nil {
			return fmt.Errorf("cmq: %w", err)
		}
		m, mnsCPU, err := cycleRateFor(ctx, mnsRun, func(w int) (func(context.Context) error, error) { return mnsc.cycle(round, w) })
		if err != nil {
			return fmt.Errorf("mns: %w", err)
		}
		ratios, cmqRates, mnsRates = append(ratios, m/c), append(cmqRates, c), append(mnsRates, m)
		cpuRatios = append(cpuRatios, cmqCPU/mnsCPU)
	}
	cmqMedian, mnsMedian := median(cmqRates)*queueBatch, median(mnsRates)*queueBatch
	out.Figure("CMQ API over HTTP, msgs/s through send→receive→delete (median)", cmqMedian, "msg/s")
	out.Figure("MNS API over HTTP, msgs/s through send→receive→delete (median)", mnsMedian, "msg/s")
	out.Ratio("MNS API vs the CMQ API, median of alternating 1 s pairs", median(ratios)*cmqMedian, cmqMedian, 0.8)
	// CPU time per message (client and server together, both in this
	// process) depends far less on what else the machine is doing.
	out.Ratio("MNS vs CMQ messages per CPU-second (median)", median(cpuRatios)*1000, 1000, 0.8)
	return nil
}

const (
	mnsRounds = 8
	mnsRun    = time.Second
)

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cycleRateFor is cycleRate for a run of the given length; it also returns
// the process's CPU seconds per cycle.
func cycleRateFor(ctx context.Context, run time.Duration, setup func(worker int) (func(context.Context) error, error)) (rate, cpu float64, err error) {
	m, err := runCycles(ctx, run, setup)
	if err != nil {
		return 0, 0, err
	}
	return m.rate, m.cpu / float64(max(m.cycles, 1)), nil
}

// newBenchAPIs builds the CMQ and MNS handlers over the same services.
func newBenchAPIs(ctx context.Context, eng *engine.Engine, svc *queue.Service) (http.Handler, http.Handler, error) {
	log := slog.New(slog.DiscardHandler)
	akv, err := eng.KV(ctx, account.Bucket, 1)
	if err != nil {
		return nil, nil, err
	}
	accounts, err := account.Open(ctx, akv, log)
	if err != nil {
		return nil, nil, err
	}
	if err := accounts.Put(ctx, account.Key{AppID: queueAppID, SecretID: queueSecretID, SecretKey: queueSecretKey}); err != nil {
		return nil, nil, err
	}
	topics, pub, err := topic.Open(ctx, eng, clock.Real{}, log)
	if err != nil {
		return nil, nil, err
	}
	nonces, err := nonce.Open(ctx, eng.ExpiringBucket, 10*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	c, err := cmq.New(cmq.Config{}, cmq.Deps{Accounts: accounts, Topics: topics, Messages: pub, Nonces: nonces, Queues: svc, Log: log})
	if err != nil {
		return nil, nil, err
	}
	m, err := mns.New(mns.Config{}, mns.Deps{Accounts: accounts, Topics: topics, Messages: pub, Queues: svc, Log: log})
	if err != nil {
		return nil, nil, err
	}
	return c, m, nil
}

// cmqHTTP is a CMQ client posting signed forms.
type cmqHTTP struct {
	base  string
	hc    *http.Client
	nonce atomic.Int64
}

func (c *cmqHTTP) call(kv ...string) (string, error) {
	ps := []client.Param{
		{Key: "SecretId", Value: queueSecretID},
		{Key: "Timestamp", Value: strconv.FormatInt(time.Now().Unix(), 10)},
		{Key: "Nonce", Value: strconv.FormatInt(c.nonce.Add(1), 10)},
		{Key: "SignatureMethod", Value: "HmacSHA256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, client.Param{Key: kv[i], Value: kv[i+1]})
	}
	u, _ := url.Parse(c.base)
	form := url.Values{}
	for _, p := range ps {
		form.Set(p.Key, p.Value)
	}
	form.Set("Signature", client.Sign("HmacSHA256", queueSecretKey, client.StringToSign(http.MethodPost, u.Host, "/v2/index.php", ps)))
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.base+"/v2/index.php", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(string(b), `{"code":0,`) {
		return "", errors.New(string(b))
	}
	return string(b), nil
}

func (c *cmqHTTP) cycle(round, w int) (func(context.Context) error, error) {
	name := fmt.Sprintf("cmq-%d-%d", round, w)
	if _, err := c.call("Action", "CreateQueue", "queueName", name); err != nil {
		return nil, err
	}
	send := []string{"Action", "BatchSendMessage", "queueName", name}
	for i, b := range benchBodies() {
		send = append(send, "msgBody."+strconv.Itoa(i+1), string(b))
	}
	return func(context.Context) error {
		if _, err := c.call(send...); err != nil {
			return err
		}
		got := 0
		del := []string{"Action", "BatchDeleteMessage", "queueName", name}
		for got < queueBatch {
			body, err := c.call("Action", "BatchReceiveMessage", "queueName", name, "numOfMsg", strconv.Itoa(queueBatch-got), "pollingWaitSeconds", "1")
			if err != nil {
				return err
			}
			for _, part := range strings.Split(body, `"receiptHandle":"`)[1:] {
				got++
				del = append(del, "receiptHandle."+strconv.Itoa(got), part[:strings.IndexByte(part, '"')])
			}
		}
		_, err := c.call(del...)
		return err
	}, nil
}

// mnsHTTP is an MNS client as the Go SDK sends requests (wire.md §2.2).
type mnsHTTP struct {
	base string
	hc   *http.Client
}

func (c *mnsHTTP) call(method, resource, body string, want int) (string, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+resource, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	sum := md5.Sum([]byte(body)) //nolint:gosec // protocol
	md := base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("Content-MD5", md)
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Date", date)
	req.Header.Set("x-mns-version", mns.Version)
	mac := hmac.New(sha1.New, []byte(queueSecretKey))
	mac.Write([]byte(method + "\n" + md + "\napplication/xml\n" + date + "\nx-mns-version:" + mns.Version + "\n" + resource))
	req.Header.Set("Authorization", "MNS "+queueSecretID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != want {
		return "", fmt.Errorf("%s %s: %d %s", method, resource, resp.StatusCode, b)
	}
	return string(b), nil
}

func (c *mnsHTTP) cycle(round, w int) (func(context.Context) error, error) {
	name := fmt.Sprintf("mns-%d-%d", round, w)
	if _, err := c.call(http.MethodPut, "/queues/"+name, "<Queue/>", http.StatusCreated); err != nil {
		return nil, err
	}
	var send strings.Builder
	send.WriteString("<Messages>")
	for _, b := range benchBodies() {
		send.WriteString("<Message><MessageBody>" + string(b) + "</MessageBody><DelaySeconds>0</DelaySeconds><Priority>8</Priority></Message>")
	}
	send.WriteString("</Messages>")
	res := "/queues/" + name + "/messages"
	return func(context.Context) error {
		if _, err := c.call(http.MethodPost, res, send.String(), http.StatusCreated); err != nil {
			return err
		}
		var del strings.Builder
		del.WriteString("<ReceiptHandles>")
		got := 0
		for got < queueBatch {
			body, err := c.call(http.MethodGet, res+"?numOfMessages="+strconv.Itoa(queueBatch-got)+"&waitseconds=1", "", http.StatusOK)
			if err != nil {
				return err
			}
			for _, part := range strings.Split(body, "<ReceiptHandle>")[1:] {
				got++
				del.WriteString("<ReceiptHandle>" + part[:strings.IndexByte(part, '<')] + "</ReceiptHandle>")
			}
		}
		del.WriteString("</ReceiptHandles>")
		_, err := c.call(http.MethodDelete, res, del.String(), http.StatusNoContent)
		return err
	}, nil
}
