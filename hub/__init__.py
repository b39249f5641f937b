"""The Meltano Hub definition of the tap and its generator."""
