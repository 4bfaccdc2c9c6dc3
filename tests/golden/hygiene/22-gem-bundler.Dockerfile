FROM ruby:3.3
WORKDIR /app
RUN gem install --no-document bundler
COPY Gemfile Gemfile.lock ./
RUN bundle install && rm -rf /usr/local/bundle/cache
COPY . .
