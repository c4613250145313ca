package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/herald-mq/herald/client"
)

// A clientCommand is one CLI command that calls one API action: its
// positional arguments and flags become the action's parameters. How its
// arguments are named, its flags typed and its response printed follows
// from the parameter and response field names (argLabels, paramKinds,
// printTable), so a command added to the table is treated like the rest.
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
			"set":        {"SetSubscriptionAttributes", []string{topicName, "subscriptionName"}, append(subFlags[2:], param{"retire-webhook-secrets", "retireWebhookSecrets", "keep only the newest webhook secret", false}), "change a subscription"},
			"clear-tags": {"ClearSubscriptionFilterTags", []string{topicName, "subscriptionName"}, nil, "remove a subscription's filter tags"},
			"list":       {"ListSubscriptionByTopic", []string{topicName}, pageFlags, "list a topic's subscriptions"},
			"delete":     {"Unsubscribe", []string{topicName, "subscriptionName"}, nil, "unsubscribe"},
		},
		"queue": {
			"create":         {"CreateQueue", []string{"queueName"}, queueFlags, "create a queue"},
			"get":            {"GetQueueAttributes", []string{"queueName"}, nil, "show a queue's attributes"},
			"set":            {"SetQueueAttributes", []string{"queueName"}, queueFlags, "change a queue's attributes"},
			"list":           {"ListQueue", nil, pageFlags, "list queues"},
			"send":           {"SendMessage", []string{"queueName", "msgBody"}, []param{{"delay", "delaySeconds", "seconds before the message is visible", false}}, "send a message"},
			"receive":        {"ReceiveMessage", []string{"queueName"}, []param{{"wait", "pollingWaitSeconds", "long-poll seconds (0-30)", false}}, "receive a message"},
			"delete-message": {"DeleteMessage", []string{"queueName", "receiptHandle"}, nil, "delete a received message"},
			"delete":         {"DeleteQueue", []string{"queueName"}, nil, "delete a queue and its messages"},
		},
	}
	publishCommand = clientCommand{"PublishMessage", []string{topicName, "msgBody"}, []param{{"tag", "msgTag", "message tag (repeatable)", true}, {"routing-key", "routingKey", "routing key", false}}, "publish a message"}
)

// clientCommands are the top-level client commands.
var clientCommands = map[string]bool{"topic": true, "subscription": true, "queue": true, "publish": true}

// groupAbout is what the top-level help says of each client group; the
// groups are listed in this order, any other after them by name.
var groupAbout = []struct{ group, about string }{
	{"topic", "manage topics"},
	{"subscription", "manage subscriptions"},
	{"publish", "publish a message"},
	{"queue", "manage queues"},
}

// aliases are old command names that still work, hidden from help and
// completion: `queue remove` deleted a queue before `queue delete` did.
var aliases = map[string]map[string]string{
	"queue": {"remove": "delete"},
}

// hints follow the error of a command given one argument too many.
var hints = map[string]string{
	"queue delete": "herald queue delete deletes a queue; a received message is deleted with herald queue delete-message QUEUE RECEIPT_HANDLE",
}

// argLabels name positional arguments in help and errors; any other
// parameter is shown in UPPER_SNAKE case.
var argLabels = map[string]string{
	"topicName":        "TOPIC",
	"subscriptionName": "SUBSCRIPTION",
	"queueName":        "QUEUE",
	"msgBody":          "BODY",
	"receiptHandle":    "RECEIPT_HANDLE",
}

type paramKind int

const (
	kindString paramKind = iota
	kindInt
	kindBool
)

// paramKinds types the parameters that are not strings. A type belongs to
// the API parameter, not to a command: maxMsgSize is an integer wherever it
// is a flag. A true bool flag sends 1.
var paramKinds = map[string]paramKind{
	"maxMsgSize": kindInt, "filterType": kindInt, "maxMsgHeapNum": kindInt,
	"pollingWaitSeconds": kindInt, "visibilityTimeout": kindInt, "msgRetentionSeconds": kindInt,
	"rewindSeconds": kindInt, "maxReceiveCount": kindInt, "delaySeconds": kindInt,
	"offset": kindInt, "limit": kindInt,
	"retireWebhookSecrets": kindBool,
}

// Where client commands find the server and credentials.
const (
	serverEnv     = "HERALD_SERVER"
	secretIDEnv   = "HERALD_SECRET_ID"
	secretKeyEnv  = "HERALD_SECRET_KEY"
	defaultServer = "http://127.0.0.1:8080"
)

// commonFlag is a flag every client command has.
type commonFlag struct {
	names, placeholder, usage string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// invocation is a client command's flag set and where its values land.
type invocation struct {
	name                        string
	cmd                         clientCommand
	fs                          *flag.FlagSet
	output                      outputFormat
	server, secretID, secretKey string
}

func newInvocation(name string, cmd clientCommand) *invocation {
	inv := &invocation{name: name, cmd: cmd, output: outputTable}
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, p := range cmd.flags {
		switch {
		case p.list:
			fs.Var(&listFlag{}, p.flag, p.usage)
		case paramKinds[p.name] == kindInt:
			fs.Var(&intFlag{}, p.flag, p.usage)
		case paramKinds[p.name] == kindBool:
			fs.Bool(p.flag, false, p.usage)
		default:
			fs.String(p.flag, "", p.usage)
		}
	}
	fs.Var(&inv.output, "o", "output format")
	fs.Var(&inv.output, "output", "output format")
	// No flag default comes from the environment: help would print it.
	fs.StringVar(&inv.server, "server", "", "herald API URL")
	fs.StringVar(&inv.secretID, "secret-id", "", "API SecretId")
	fs.StringVar(&inv.secretKey, "secret-key", "", "API SecretKey")
	inv.fs = fs
	return inv
}

// commonFlags describes the flags newInvocation adds to every command.
func commonFlags(env Env) []commonFlag {
	return []commonFlag{
		{"-o, --output", "FORMAT", "table (default) or json: the response's fields as the server sent them"},
		{"--server", "URL", "herald API URL (default from $" + serverEnv + ", " + isSet(env, serverEnv) + "; else " + defaultServer + ")"},
		{"--secret-id", "ID", "API SecretId " + fromEnv(env, secretIDEnv)},
		{"--secret-key", "KEY", "API SecretKey " + fromEnv(env, secretKeyEnv)},
	}
}

// fromEnv says whether a variable is set, never its value.
func fromEnv(env Env, name string) string {
	return "(default from $" + name + ", " + isSet(env, name) + ")"
}

func isSet(env Env, name string) string {
	if env.Getenv(name) != "" {
		return "set"
	}
	return "not set"
}

// intFlag is an integer flag whose error says what it wants.
type intFlag struct{ v int64 }

func (f *intFlag) String() string { return strconv.FormatInt(f.v, 10) }

func (f *intFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	f.v = v
	return nil
}

func runClient(ctx context.Context, group string, args []string, env Env) int {
	var cmd clientCommand
	name := group
	if group == "publish" {
		cmd = publishCommand
	} else {
		subs := clientGroup[group]
		if len(args) == 0 {
			fmt.Fprint(env.Stderr, groupUsage(group, subs))
			return 2
		}
		sub := args[0]
		if isHelp(sub) {
			fmt.Fprint(env.Stdout, groupUsage(group, subs))
			return 0
		}
		if to, ok := aliases[group][sub]; ok {
			fmt.Fprintf(env.Stderr, "herald %s %s is deprecated: use herald %s %s\n", group, sub, group, to)
			sub = to
		}
		c, ok := subs[sub]
		if !ok {
			fmt.Fprintf(env.Stderr, "herald %s: unknown command %q\n%s(herald %s -h lists the commands)\n", group, sub, didYouMean(sub, sortedKeys(subs)), group)
			return 2
		}
		cmd, name, args = c, group+" "+sub, args[1:]
	}
	inv := newInvocation(name, cmd)
	if err := inv.fs.Parse(interleave(inv.fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			inv.help(env.Stdout, env)
			return 0
		}
		msg := err.Error()
		if unknown, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
			msg = "unknown flag " + unknown + "\n" + didYouMean("--"+strings.TrimLeft(unknown, "-"), inv.flagNames())
			msg = strings.TrimSuffix(msg, "\n")
		}
		return inv.usageError(env, msg)
	}
	if n := inv.fs.NArg(); n < len(cmd.args) {
		return inv.usageError(env, "missing argument "+argLabel(cmd.args[n]))
	} else if n > len(cmd.args) {
		msg := fmt.Sprintf("unexpected argument %q", inv.fs.Arg(len(cmd.args)))
		if h := hints[name]; h != "" {
			msg += "\n" + h
		}
		return inv.usageError(env, msg)
	}
	return inv.call(ctx, env)
}

// call sends the action and prints its response.
func (inv *invocation) call(ctx context.Context, env Env) int {
	params := inv.params()
	if inv.cmd.action == "Subscribe" && !hasParam(params, "protocol") {
		params = append(params, client.Param{Key: "protocol", Value: "http"})
	}
	server := cmp.Or(inv.server, env.Getenv(serverEnv), defaultServer)
	c, err := client.New(server, cmp.Or(inv.secretID, env.Getenv(secretIDEnv)), cmp.Or(inv.secretKey, env.Getenv(secretKeyEnv)))
	if err != nil {
		fmt.Fprintf(env.Stderr, "herald %s: %v\n", inv.name, err)
		return 2
	}
	raw, err := c.Do(ctx, inv.cmd.action, params)
	if errors.Is(err, client.ErrNoMessage) {
		// An empty queue is an answer, not a failure.
		raw = nil
		if inv.output == outputJSON {
			raw = []byte("null")
		}
		err = nil
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "herald %s: %v\n", inv.name, err)
		return 1
	}
	switch {
	case raw == nil:
		err = writeLine(env.Stdout, "no message")
	case inv.output == outputJSON:
		err = printJSON(env.Stdout, raw)
	default:
		err = printTable(env.Stdout, raw, cmp.Or(env.Location, time.Local))
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "herald %s: %v\n", inv.name, err)
		return 1
	}
	return 0
}

// params are the positional arguments and the flags given, as API
// parameters.
func (inv *invocation) params() []client.Param {
	var params []client.Param
	for i, a := range inv.cmd.args {
		params = append(params, client.Param{Key: a, Value: inv.fs.Arg(i)})
	}
	set := map[string]bool{}
	inv.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, p := range inv.cmd.flags {
		if !set[p.flag] {
			continue
		}
		v := inv.fs.Lookup(p.flag).Value
		switch {
		case p.list:
			for j, item := range *v.(*listFlag) {
				params = append(params, client.Param{Key: p.name + "." + strconv.Itoa(j+1), Value: item})
			}
		case paramKinds[p.name] == kindBool:
			if v.String() == "true" {
				params = append(params, client.Param{Key: p.name, Value: "1"})
			}
		default:
			params = append(params, client.Param{Key: p.name, Value: v.String()})
		}
	}
	return params
}

// usageError prints a mistake in the command line and the usage line, and
// returns exit code 2.
func (inv *invocation) usageError(env Env, msg string) int {
	fmt.Fprintf(env.Stderr, "herald %s: %s\n%s(herald %s -h lists the flags)\n", inv.name, msg, inv.usageLine(), inv.name)
	return 2
}

func (inv *invocation) usageLine() string {
	return "usage: herald " + strings.TrimSpace(inv.name+" "+argNames(inv.cmd.args)) + " [flags]\n"
}

// help lists the command's arguments and flags, and says which of the
// environment variables it reads are set.
func (inv *invocation) help(w io.Writer, env Env) {
	fmt.Fprintf(w, "%s%s (action %s)\n\nflags:\n", inv.usageLine(), inv.cmd.about, inv.cmd.action)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, p := range inv.cmd.flags {
		fmt.Fprintf(tw, "  --%s\t%s\n", strings.TrimSpace(p.flag+" "+placeholder(p)), p.usage)
	}
	for _, f := range commonFlags(env) {
		fmt.Fprintf(tw, "  %s %s\t%s\n", f.names, f.placeholder, f.usage)
	}
	_ = tw.Flush()
}

// flagNames are the command's flags as --name, for suggestions and
// completion.
func (inv *invocation) flagNames() []string {
	var names []string
	inv.fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			names = append(names, "-"+f.Name)
		} else {
			names = append(names, "--"+f.Name)
		}
	})
	return names
}

func placeholder(p param) string {
	switch {
	case p.list:
		return "VALUE"
	case paramKinds[p.name] == kindInt:
		return "N"
	case paramKinds[p.name] == kindBool:
		return ""
	}
	return "VALUE"
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
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
	return slices.ContainsFunc(ps, func(p client.Param) bool { return p.Key == key })
}

// argLabel names a positional argument: topicName → TOPIC, appId → APP_ID.
func argLabel(param string) string {
	if l, ok := argLabels[param]; ok {
		return l
	}
	var b strings.Builder
	for i, r := range param {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func argNames(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = argLabel(a)
	}
	return strings.Join(out, " ")
}

// groupUsage lists a group's commands, one a line, each line starting with
// the command's name (tests and completion read it).
func groupUsage(group string, subs map[string]clientCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: herald %s COMMAND ...\n\n", group)
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, name := range sortedKeys(subs) {
		c := subs[name]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, argNames(c.args), c.about)
	}
	_ = tw.Flush()
	return b.String()
}

// clientGroups are the client command groups in the order help lists them.
func clientGroups() []string {
	var out []string
	for _, g := range groupAbout {
		if clientCommands[g.group] {
			out = append(out, g.group)
		}
	}
	for _, g := range sortedKeys(clientCommands) {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func aboutGroup(group string) string {
	for _, g := range groupAbout {
		if g.group == group {
			return g.about
		}
	}
	return "manage " + group + "s"
}
