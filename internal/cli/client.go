package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/herald-mq/herald/client"
)

// A clientCommand is one CLI command that calls one API action: its
// positional arguments and flags become the action's parameters.
type clientCommand struct {
	action string
	args   []string // parameter names of the positional arguments, in order
	flags  []param
	about  string
}

// param is a flag that becomes a parameter; list flags repeat and become
// name.1, name.2, ….
type param struct {
	flag, name, usage string
	list              bool
}

var (
	topicName   = "topicName"
	maxMsgSize  = param{"max-msg-size", "maxMsgSize", "largest message body in bytes", false}
	subFlags    = []param{{"protocol", "protocol", "http or queue (default http)", false}, {"endpoint", "endpoint", "URL, or queue name for protocol queue", false}, {"strategy", "notifyStrategy", "BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY", false}, {"format", "notifyContentFormat", "JSON, SIMPLIFIED or XML", false}, {"tag", "filterTag", "filter tag (repeatable)", true}, {"binding-key", "bindingKey", "binding key (repeatable)", true}, {"dialect", "dialect", "CMQ or MNS", false}, {"webhook-secret", "webhookSecret", `Standard Webhooks secret, or "generate"`, false}}
	queueFlags  = []param{{"max-msg-heap-num", "maxMsgHeapNum", "most messages kept", false}, {"polling-wait-seconds", "pollingWaitSeconds", "default long-poll time", false}, {"visibility-timeout", "visibilityTimeout", "seconds a received message stays invisible", false}, maxMsgSize, {"msg-retention-seconds", "msgRetentionSeconds", "how long messages are kept", false}, {"rewind-seconds", "rewindSeconds", "how far back RewindQueue may go", false}, {"dead-letter-queue", "deadLetterQueueName", "queue that takes messages received too often", false}, {"max-receive-count", "maxReceiveCount", "receives before dead-lettering", false}}
	pageFlags   = []param{{"search", "searchWord", "substring of the name", false}, {"offset", "offset", "skip this many", false}, {"limit", "limit", "page size", false}}
	clientGroup = map[string]map[string]clientCommand{
		"topic": {
			"create": {"CreateTopic", []string{topicName}, []param{maxMsgSize, {"filter-type", "filterType", "1 tags, 2 routing keys", false}}, "create a topic"},
			"get":    {"GetTopicAttributes", []string{topicName}, nil, "show a topic's attributes"},
			"set":    {"SetTopicAttributes", []string{topicName}, []param{maxMsgSize}, "change a topic's attributes"},
			"list":   {"ListTopic", nil, pageFlags, "list topics"},
			"delete": {"DeleteTopic", []string{topicName}, nil, "delete a topic without subscriptions"},
		},
		"subscription": {
			"create":     {"Subscribe", []string{topicName, "subscriptionName"}, subFlags, "subscribe to a topic"},
			"get":        {"GetSubscriptionAttributes", []string{topicName, "subscriptionName"}, nil, "show a subscription"},
			"set":        {"SetSubscriptionAttributes", []string{topicName, "subscriptionName"}, append(subFlags[2:], param{"retire-webhook-secrets", "retireWebhookSecrets", "1: keep only the newest webhook secret", false}), "change a subscription"},
			"clear-tags": {"ClearSubscriptionFilterTags", []string{topicName, "subscriptionName"}, nil, "remove a subscription's filter tags"},
			"list":       {"ListSubscriptionByTopic", []string{topicName}, pageFlags, "list a topic's subscriptions"},
			"delete":     {"Unsubscribe", []string{topicName, "subscriptionName"}, nil, "unsubscribe"},
		},
		"queue": {
			"create":  {"CreateQueue", []string{"queueName"}, queueFlags, "create a queue"},
			"get":     {"GetQueueAttributes", []string{"queueName"}, nil, "show a queue's attributes"},
			"set":     {"SetQueueAttributes", []string{"queueName"}, queueFlags, "change a queue's attributes"},
			"list":    {"ListQueue", nil, pageFlags, "list queues"},
			"send":    {"SendMessage", []string{"queueName", "msgBody"}, []param{{"delay", "delaySeconds", "seconds before the message is visible", false}}, "send a message"},
			"receive": {"ReceiveMessage", []string{"queueName"}, []param{{"wait", "pollingWaitSeconds", "long-poll seconds (0-30)", false}}, "receive a message"},
			"delete":  {"DeleteMessage", []string{"queueName", "receiptHandle"}, nil, "delete a received message"},
			"remove":  {"DeleteQueue", []string{"queueName"}, nil, "delete a queue"},
		},
	}
	publishCommand = clientCommand{"PublishMessage", []string{topicName, "msgBody"}, []param{{"tag", "msgTag", "message tag (repeatable)", true}, {"routing-key", "routingKey", "routing key", false}}, "publish a message"}
)

// clientCommands are the top-level client commands.
var clientCommands = map[string]bool{"topic": true, "subscription": true, "queue": true, "publish": true}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runClient(ctx context.Context, group string, args []string, env Env) int {
	var cmd clientCommand
	name := group
	if group == "publish" {
		cmd = publishCommand
	} else {
		subs := clientGroup[group]
		if len(args) == 0 || subs[args[0]].action == "" {
			fmt.Fprint(env.Stderr, groupUsage(group, subs))
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
				return 0
			}
			return 2
		}
		cmd, name, args = subs[args[0]], group+" "+args[0], args[1:]
	}
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	server := fs.String("server", cmp.Or(env.Getenv("HERALD_SERVER"), "http://127.0.0.1:8080"), "herald API URL (env HERALD_SERVER)")
	secretID := fs.String("secret-id", env.Getenv("HERALD_SECRET_ID"), "API SecretId (env HERALD_SECRET_ID)")
	// The key is no flag default: help would print it.
	secretKey := fs.String("secret-key", "", "API SecretKey "+fromEnv(env, secretKeyEnv))
	values := make([]*string, len(cmd.flags))
	lists := make([]*listFlag, len(cmd.flags))
	for i, p := range cmd.flags {
		if p.list {
			lists[i] = &listFlag{}
			fs.Var(lists[i], p.flag, p.usage)
		} else {
			values[i] = fs.String(p.flag, "", p.usage)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: herald %s %s [flags]\n%s (action %s)\n\n", name, argNames(cmd.args), cmd.about, cmd.action)
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != len(cmd.args) {
		fs.Usage()
		return 2
	}
	if *secretKey == "" {
		*secretKey = env.Getenv(secretKeyEnv)
	}
	var params []client.Param
	for i, a := range cmd.args {
		params = append(params, client.Param{Key: a, Value: fs.Arg(i)})
	}
	for i, p := range cmd.flags {
		if p.list {
			for j, v := range *lists[i] {
				params = append(params, client.Param{Key: p.name + "." + strconv.Itoa(j+1), Value: v})
			}
		} else if *values[i] != "" {
			params = append(params, client.Param{Key: p.name, Value: *values[i]})
		}
	}
	if cmd.action == "Subscribe" && !hasParam(params, "protocol") {
		params = append(params, client.Param{Key: "protocol", Value: "http"})
	}
	c, err := client.New(*server, *secretID, *secretKey)
	if err != nil {
		fmt.Fprintf(env.Stderr, "herald %s: %v\n", name, err)
		return 2
	}
	raw, err := c.Do(ctx, cmd.action, params)
	if err != nil {
		fmt.Fprintf(env.Stderr, "herald %s: %v\n", name, err)
		return 1
	}
	return printResult(env.Stdout, raw)
}

// secretKeyEnv holds the API SecretKey for the client commands.
const secretKeyEnv = "HERALD_SECRET_KEY"

// fromEnv says whether the variable holding a secret is set, never its
// value.
func fromEnv(env Env, name string) string {
	if env.Getenv(name) != "" {
		return "(default from $" + name + ", set)"
	}
	return "(default from $" + name + ", not set)"
}

// interleave lets flags follow positional arguments: the flag package stops
// at the first argument that is not a flag.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && i+1 < len(args) {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(append(flags, "--"), positional...)
}

func hasParam(ps []client.Param, key string) bool {
	for _, p := range ps {
		if p.Key == key {
			return true
		}
	}
	return false
}

// printResult prints the response without the envelope, indented.
func printResult(w io.Writer, raw json.RawMessage) int {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		_, _ = w.Write(raw)
		return 0
	}
	for _, k := range []string{"code", "message"} {
		delete(fields, k)
	}
	b, _ := json.Marshal(fields)
	var out bytes.Buffer
	_ = json.Indent(&out, b, "", "  ")
	out.WriteByte('\n')
	_, _ = out.WriteTo(w)
	return 0
}

func argNames(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ToUpper(a)
	}
	return strings.Join(out, " ")
}

func groupUsage(group string, subs map[string]clientCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: herald %s COMMAND ...\n\n", group)
	for _, name := range sortedKeys(subs) {
		c := subs[name]
		fmt.Fprintf(&b, "  %-11s %-34s %s\n", name, argNames(c.args), c.about)
	}
	return b.String()
}
