package cmq

// RecordParams has s tell f of every parameter an action reads.
func RecordParams(s *Server, f func(action string, r ParamRead)) { s.readParams = f }

// Actions are the names of the actions s serves, as documented.
func Actions(s *Server) []string {
	names := make([]string, 0, len(s.actions))
	for _, a := range s.actions {
		names = append(names, a.name)
	}
	return names
}

// Storing are the lower-case names of the actions refused while the
// engine's disk is full.
func Storing() []string {
	names := make([]string, 0, len(storing))
	for n := range storing {
		names = append(names, n)
	}
	return names
}
