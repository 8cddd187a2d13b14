app = "I am a string"
