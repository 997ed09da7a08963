package identity

import "encoding/base64"

// unstructuredData decodes a rendered Secret's data map.
func unstructuredData(obj map[string]any) (map[string][]byte, bool, error) {
	raw, ok := obj["data"].(map[string]any)
	if !ok {
		return nil, false, nil
	}
	out := map[string][]byte{}
	for k, v := range raw {
		b, err := base64.StdEncoding.DecodeString(v.(string))
		if err != nil {
			return nil, true, err
		}
		out[k] = b
	}
	return out, true, nil
}
