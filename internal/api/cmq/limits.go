package cmq

// Limits of the list actions and of RewindQueue (wire.md §1.5, §1.6).
const (
	// maxListOffset bounds offset of ListTopic and ListQueue.
	maxListOffset = 1<<31 - 1
	// maxListLimit bounds limit of ListTopic and ListQueue.
	maxListLimit = 50
	// maxSubscriptionOffset and maxSubscriptionLimit bound those of
	// ListSubscriptionByTopic.
	maxSubscriptionOffset = 1000
	maxSubscriptionLimit  = 100
	// defaultListLimit is limit when absent.
	defaultListLimit = 20
	// maxStartConsumeTime bounds RewindQueue's Unix time.
	maxStartConsumeTime = 1 << 40
)
